package contacts_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-dev/switchboard/runtime/inbox/contacts"
	"github.com/switchboard-dev/switchboard/runtime/store"
)

func openStore(t *testing.T) (*store.Store, *pgx.Conn) {
	t.Helper()
	dsn := srv.NewDatabase(t)
	st, err := store.Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return st, conn
}

func importString(t *testing.T, st *store.Store, ns string, f contacts.Format, body string) contacts.Result {
	t.Helper()
	res, err := contacts.Import(t.Context(), st, contacts.ImportRequest{Namespace: ns, Actor: "test", Source: "t", Format: f,
		Body: strings.NewReader(body)})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

type stored struct {
	Name    *string
	Tags    []string
	Attrs   map[string]any
	Updated time.Time
}

func contactsOf(t *testing.T, conn *pgx.Conn, ns string) map[string]stored {
	t.Helper()
	rows, _ := conn.Query(t.Context(), `SELECT wa_id, profile_name, tags, attributes, updated_at FROM contacts WHERE namespace = $1`, ns)
	out := map[string]stored{}
	var w string
	var s stored
	_, err := pgx.ForEachRow(rows, []any{&w, &s.Name, &s.Tags, &s.Attrs, &s.Updated}, func() error { out[w] = s; return nil })
	if err != nil {
		t.Fatal(err)
	}
	return out
}

const badCSV = `phone,name,tags,attr.tier,attributes
+34 611 111 111,Ana,vip;es,gold,
34611111112,Bea,es|promo,,"{""visits"":3}"
0611111113,Carl,,,
+34 611 111 111,Ana again,,,
+1 650 555 1234,Dan,bad;tag,silver,"{""tier"":""x""}"
+1 650 555 1235,"Eve",a;b,,not json
+1 650 555 1236,Fay
+1 650 555 1237,Gus,"x,y",,
`

func TestImportCSVBadRowsAndRerun(t *testing.T) {
	st, conn := openStore(t)
	res := importString(t, st, "acme", contacts.FormatCSV, badCSV)
	want := []contacts.RowError{
		{Line: 4, Field: "phone"},
		{Line: 5, Field: "phone"},
		{Line: 6, Field: "attr.tier"},
		{Line: 7, Field: "attributes"},
		{Line: 8},
		{Line: 9, Field: "tags"},
	}
	if res.Rows != 8 || res.Inserted != 2 || res.Updated != 0 || res.Rejected != len(want) || len(res.Errors) != len(want) {
		t.Fatalf("result %+v", res)
	}
	for i, w := range want {
		if got := res.Errors[i]; got.Line != w.Line || got.Field != w.Field || got.Reason == "" {
			t.Errorf("error %d: got %+v, want line %d field %q", i, got, w.Line, w.Field)
		}
	}
	if !strings.Contains(res.Errors[0].Reason, "national number") || !strings.Contains(res.Errors[1].Reason, "line 2") ||
		!strings.Contains(res.Errors[5].Reason, "separator") {
		t.Errorf("reasons: %+v", res.Errors)
	}
	before := contactsOf(t, conn, "acme")
	ana, bea := before["34611111111"], before["34611111112"]
	if len(before) != 2 || *ana.Name != "Ana" || strings.Join(ana.Tags, ",") != "vip,es" || ana.Attrs["tier"] != "gold" ||
		strings.Join(bea.Tags, ",") != "es,promo" || bea.Attrs["visits"] != float64(3) {
		t.Fatalf("stored %+v", before)
	}

	// The same file again changes nothing, updated_at included.
	again := importString(t, st, "acme", contacts.FormatCSV, badCSV)
	if again.Inserted != 0 || again.Updated != 0 || again.Unchanged != 2 || again.Rejected != len(want) {
		t.Fatalf("re-run %+v", again)
	}
	after := contactsOf(t, conn, "acme")
	for w, c := range before {
		if !after[w].Updated.Equal(c.Updated) {
			t.Errorf("%s: updated_at moved on a re-run", w)
		}
	}

	// A later import adds tags and merges attributes; another tenant is not touched.
	res = importString(t, st, "acme", contacts.FormatJSONL, `{"phone":"+34611111111","tags":["new"],"attributes":{"visits":1}}`+"\n\n"+
		`{"phone":"+34611111112","name":"Bea"}`+"\n"+`{"phone":"+34611111119","nick":"x"}`+"\n"+`[1]`+"\n")
	if res.Rows != 4 || res.Updated != 1 || res.Unchanged != 1 || res.Rejected != 2 || res.Errors[0].Line != 4 || res.Errors[1].Line != 5 {
		t.Fatalf("jsonl %+v", res)
	}
	ana = contactsOf(t, conn, "acme")["34611111111"]
	if strings.Join(ana.Tags, ",") != "vip,es,new" || ana.Attrs["tier"] != "gold" || ana.Attrs["visits"] != float64(1) {
		t.Errorf("merged %+v", ana)
	}
	if n := len(contactsOf(t, conn, "globex")); n != 0 {
		t.Errorf("globex has %d contacts", n)
	}
	var audits int
	if err := conn.QueryRow(t.Context(), `SELECT count(*) FROM audit_log WHERE namespace = 'acme' AND action = 'contacts.import'`).Scan(&audits); err != nil || audits != 3 {
		t.Errorf("audit entries %d %v", audits, err)
	}
}

func TestImportRefusesBadHeaderAndTooManyTags(t *testing.T) {
	st, conn := openStore(t)
	for _, tc := range []struct{ body, want string }{
		{"", "empty"},
		{"name,tags\nAna,x\n", `"phone"`},
		{"phone,colour\n+34611111111,red\n", `"colour"`},
		{"phone,phone\n", "twice"},
		{"phone,attr.\n", "must not be empty"},
	} {
		_, err := contacts.Import(t.Context(), st, contacts.ImportRequest{Namespace: "acme", Actor: "test", Format: contacts.FormatCSV,
			Body: strings.NewReader(tc.body)})
		var he *contacts.HeaderError
		if !errorsAs(err, &he) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: want a header error with %s, got %v", tc.body, tc.want, err)
		}
	}
	// 45 tags stored, then 10 more: over 50 with the existing ones, refused with its line.
	var tags45, tags10 []string
	for i := range 45 {
		tags45 = append(tags45, fmt.Sprintf("t%d", i))
	}
	for i := range 10 {
		tags10 = append(tags10, fmt.Sprintf("u%d", i))
	}
	importString(t, st, "acme", contacts.FormatCSV, "phone,tags\n+34611111111,"+strings.Join(tags45, ";")+"\n")
	res := importString(t, st, "acme", contacts.FormatCSV, "phone,tags\n+34611111112,a\n+34611111111,"+strings.Join(tags10, ";")+"\n")
	if res.Rejected != 1 || res.Errors[0].Line != 3 || res.Errors[0].Field != "tags" || !strings.Contains(res.Errors[0].Reason, "55 tags") {
		t.Fatalf("%+v", res)
	}
	if n := len(contactsOf(t, conn, "acme")["34611111111"].Tags); n != 45 {
		t.Errorf("tags: %d", n)
	}
}

// rowsReader generates a CSV of n contacts without holding it in memory.
type rowsReader struct {
	n, i int
	buf  []byte
}

func (r *rowsReader) Read(p []byte) (int, error) {
	for len(r.buf) == 0 {
		switch {
		case r.i == 0:
			r.buf = []byte("phone,name,tags,attr.tier\n")
		case r.i > r.n:
			return 0, io.EOF
		default:
			tier := []string{"gold", "silver", "bronze"}[r.i%3]
			r.buf = fmt.Appendf(nil, "+1 650 %07d,Customer %d,bulk;t%d,%s\n", 2000000+r.i, r.i, r.i%7, tier)
		}
		r.i++
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}

func TestImport100000Rows(t *testing.T) {
	st, conn := openStore(t)
	var progress []contacts.Progress
	res, err := contacts.Import(t.Context(), st, contacts.ImportRequest{Namespace: "acme", Actor: "test", Format: contacts.FormatCSV,
		Body: &rowsReader{n: 100_000}, Progress: func(p contacts.Progress) { progress = append(progress, p) }})
	if err != nil {
		t.Fatal(err)
	}
	if res.Rows != 100_000 || res.Inserted != 100_000 || res.Rejected != 0 {
		t.Fatalf("%+v", res)
	}
	if len(progress) < 20 || progress[len(progress)-1] != (contacts.Progress{Phase: "write", Rows: 100_000}) {
		t.Errorf("progress: %d reports, last %+v", len(progress), progress[len(progress)-1])
	}
	var n int
	if err := conn.QueryRow(t.Context(), `SELECT count(*) FROM contacts WHERE namespace = 'acme' AND tags @> '{bulk}' AND attributes ? 'tier'`).Scan(&n); err != nil || n != 100_000 {
		t.Fatalf("stored %d %v", n, err)
	}
	again, err := contacts.Import(t.Context(), st, contacts.ImportRequest{Namespace: "acme", Actor: "test", Format: contacts.FormatCSV,
		Body: &rowsReader{n: 100_000}})
	if err != nil || again.Unchanged != 100_000 || again.Inserted+again.Updated != 0 {
		t.Fatalf("re-run %+v %v", again, err)
	}
	b, _ := json.Marshal(again)
	t.Logf("re-run: %s", b)
}

func errorsAs(err error, target any) bool { return errors.As(err, target) }
