package live

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-dev/switchboard/runtime/inbox/authz"
	"github.com/switchboard-dev/switchboard/runtime/inbox/problem"
)

// Heartbeat is how often an idle stream gets a comment line, so that proxies keep it and
// clients notice a dead connection.
const Heartbeat = 15 * time.Second

// writeTimeout bounds one write to a client: a client that stops reading is cut off.
const writeTimeout = 30 * time.Second

const replayPage = 500

// events serves GET /api/v1/events: an SSE stream of the events the caller may see,
// after a replay of those it missed when it sends Last-Event-ID (header, or the
// lastEventId query parameter for a first connection).
func (s *Service) events(w http.ResponseWriter, r *http.Request) {
	p := authz.FromContext(r.Context())
	last, resume, bad := lastEventID(r)
	if bad != nil {
		problem.Write(w, *bad)
		return
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	stopOnShutdown := context.AfterFunc(s.ctx, cancel)
	defer stopOnShutdown()
	sub, err := s.hub.Subscribe(ctx, p)
	if err != nil {
		problem.Respond(w, http.StatusServiceUnavailable, "live events are not available: the inbox is starting or stopping; retry")
		return
	}
	defer s.hub.Unsubscribe(sub)
	if s.presence != nil && p.Kind == authz.KindAgent {
		s.connected(ctx, p.Subject)
		defer s.disconnected(context.WithoutCancel(ctx), p.Subject)
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	st := &stream{w: w, rc: http.NewResponseController(w)}
	if st.write("retry: 3000\n: connected\n\n") != nil {
		return
	}
	sent := sub.From
	if resume {
		if sent, err = s.replay(ctx, st, p, last, sub.From); err != nil {
			if ctx.Err() == nil {
				s.log.Info("live events: replay ended", "subject", p.Subject, "error", err)
			}
			return
		}
	}
	beat := time.NewTicker(Heartbeat)
	defer beat.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-beat.C:
			if st.write(": heartbeat\n\n") != nil {
				return
			}
		case ev, ok := <-sub.C:
			if !ok {
				return // dropped (too slow) or the hub stopped: the client reconnects
			}
			if ev.ID <= sent {
				continue // replayed already (this replica's hub was behind the client's last one)
			}
			if st.event(ev) != nil {
				return
			}
			sent = ev.ID
		}
	}
}

func (s *Service) connected(ctx context.Context, login string) {
	if err := s.presence.Connected(ctx, login); err != nil {
		s.log.Error("live events: recording a connection", "agent", login, "error", err)
	}
}

func (s *Service) disconnected(ctx context.Context, login string) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := s.presence.Disconnected(ctx, login); err != nil {
		s.log.Error("live events: recording a disconnection", "agent", login, "error", err)
	}
}

// lastEventID reads Last-Event-ID (or ?lastEventId=): a non-negative integer.
func lastEventID(r *http.Request) (int64, bool, *problem.Problem) {
	field, v := "Last-Event-ID", strings.TrimSpace(r.Header.Get("Last-Event-ID"))
	if v == "" {
		field, v = "lastEventId", strings.TrimSpace(r.URL.Query().Get("lastEventId"))
	}
	if v == "" {
		return 0, false, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		pr := problem.Field(http.StatusBadRequest, field,
			fmt.Sprintf("%s must be the id of an event received (a non-negative integer), got %q", field, v))
		return 0, false, &pr
	}
	return n, true, nil
}

// replay writes the events after last up to upto (the hub's cursor when the client
// subscribed) and returns the last id sent. When events after last may already have been
// pruned, a "reset" event comes first: the client reloads what it shows.
func (s *Service) replay(ctx context.Context, st *stream, p *authz.Principal, last, upto int64) (int64, error) {
	if last >= upto {
		return last, nil
	}
	var oldest *int64
	if err := s.store.ReadTx(ctx, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT min(id) FROM inbox_events`).Scan(&oldest)
	}); err != nil {
		return 0, err
	}
	if oldest == nil || *oldest > last+1 {
		if err := st.write(fmt.Sprintf("event: reset\ndata: {\"reason\":\"events after %d are no longer kept; reload\"}\n\n", last)); err != nil {
			return 0, err
		}
	}
	for after := last; after < upto; {
		var page []Event
		err := s.store.ReadTx(ctx, func(tx pgx.Tx) error {
			rs, err := tx.Query(ctx, `
				SELECT id, kind, conversation_id, teams, agent, at, payload FROM inbox_events
				 WHERE namespace = $1 AND id > $2 AND id <= $3 ORDER BY id LIMIT $4`, s.namespace, after, upto, replayPage)
			if err != nil {
				return err
			}
			page, err = pgx.CollectRows(rs, func(r pgx.CollectableRow) (Event, error) {
				var e Event
				return e, r.Scan(&e.ID, &e.Kind, &e.ConversationID, &e.Teams, &e.Agent, &e.At, &e.Payload)
			})
			return err
		})
		if err != nil {
			return 0, err
		}
		for _, e := range page {
			if Visible(p, e) {
				if err := st.event(e); err != nil {
					return 0, err
				}
			}
		}
		if len(page) < replayPage {
			break
		}
		after = page[len(page)-1].ID
	}
	return upto, nil
}

type stream struct {
	w  io.Writer
	rc *http.ResponseController
}

// event writes one event in the SSE format: id, event (the kind), data (the JSON).
func (s *stream) event(e Event) error {
	if e.Teams == nil {
		e.Teams = []string{}
	}
	data, err := json.Marshal(e)
	if err != nil {
		return err
	}
	return s.write(fmt.Sprintf("id: %d\nevent: %s\ndata: %s\n\n", e.ID, e.Kind, data))
}

// write sends text and flushes it within writeTimeout.
func (s *stream) write(text string) error {
	if err := s.rc.SetWriteDeadline(time.Now().Add(writeTimeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	if _, err := io.WriteString(s.w, text); err != nil {
		return err
	}
	return s.rc.Flush()
}
