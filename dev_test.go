package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	sbv1 "github.com/switchboard-dev/switchboard/api/v1alpha1"
	"github.com/switchboard-dev/switchboard/runtime/contract"
	"github.com/switchboard-dev/switchboard/runtime/dev"
	"github.com/switchboard-dev/switchboard/runtime/sender"
)

// TestMain lets this test binary stand in for the switchboard binary: dev mode runs the
// sender Deployments as processes of its own executable, and the command-line tests run
// it with SWITCHBOARD_TEST_MAIN=1.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && (os.Args[1] == "sender" || os.Args[1] == "inbox") || os.Getenv("SWITCHBOARD_TEST_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// signalWriter collects output and closes ready once it has seen a marker.
type signalWriter struct {
	mu     sync.Mutex
	buf    strings.Builder
	marker string
	ready  chan struct{}
	once   sync.Once
}

func (w *signalWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if strings.Contains(w.buf.String(), w.marker) {
		w.once.Do(func() { close(w.ready) })
	}
	return len(p), nil
}

func (w *signalWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// TestDevMode runs `switchboard dev` as `make dev` does: the samples must be applied and
// reconciled, the printed kubeconfig must work, and Ctrl-C must clean up.
func TestDevMode(t *testing.T) {
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		t.Fatal("KUBEBUILDER_ASSETS is not set: run `make test`, which builds kube-apiserver and etcd into bin/k8s")
	}
	// The default simulator and inbox ports are taken, as when `make dev` runs on the
	// same machine.
	for _, addr := range []string{dev.DefaultSimulatorListen, dev.DefaultInboxListen} {
		if ln, err := net.Listen("tcp", addr); err == nil {
			defer func() { _ = ln.Close() }()
		}
	}
	state := t.TempDir()
	out := &signalWriter{marker: "Press Ctrl-C", ready: make(chan struct{})}
	t.Cleanup(func() { logOnFailure(t, out, state) })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- runDev(ctx, []string{"--control-plane-bin", assets, "--samples", "config/samples", "--state-dir", state,
			"--simulator-listen", "127.0.0.1:0", "--inbox-listen", "127.0.0.1:0"}, out) // free ports: `make dev` may hold the defaults
	}()
	select {
	case <-out.ready:
	case err := <-done:
		t.Fatalf("dev mode stopped early: %v\n%s", err, out)
	case <-time.After(3 * time.Minute):
		t.Fatalf("dev mode did not get ready:\n%s", out)
	}
	text := out.String()
	for _, want := range []string{"export KUBECONFIG=", "kubectl get switchboard -A", "RoutingPolicy    sales            True",
		"Number           sales-es         True   Reconciled", "Number           support-en       True   Reconciled"} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}

	kubeconfig := filepath.Join(state, "kubeconfig")
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatalf("printed kubeconfig: %v", err)
	}
	c, err := client.New(cfg, client.Options{Scheme: newScheme()})
	if err != nil {
		t.Fatal(err)
	}
	var numbers sbv1.NumberList
	if err := c.List(ctx, &numbers, client.InNamespace("acme")); err != nil || len(numbers.Items) != 3 {
		t.Fatalf("listing sample Numbers through the kubeconfig: %d, %v", len(numbers.Items), err)
	}
	for _, n := range numbers.Items {
		if n.Status.Sender == nil || n.Status.ObservedGeneration != n.Generation {
			t.Errorf("Number %s not reconciled: %+v", n.Name, n.Status)
		}
	}
	expectDevQuality(t, ctx, c, "GREEN")

	// `switchboard send` reaches the simulator through the sample number's sender.
	dsn := regexp.MustCompile(`postgres://[^"]+`).FindString(text)
	t.Setenv(sender.DatabaseURLEnv, dsn)
	var sendOut strings.Builder
	err = sender.SendMain(ctx, []string{"--number", "acme/sales-es", "--to", "34600000001", "--template", "hello_world", "--wait", "30s"}, &sendOut)
	if err != nil || !strings.Contains(sendOut.String(), "sent wamid.") {
		t.Fatalf("switchboard send: %v\n%s", err, sendOut.String())
	}

	// The walkthrough: the customer's question, the auto-reply in the simulator, the
	// conversation and its two messages from the inbox's read API.
	expectInboxReady(t, ctx, c)
	sim := regexp.MustCompile(`curl -X POST http://(127\.0\.0\.1:\d+)/_sim/events -d '(\{[^']*"inbound"[^']*\})'`).FindStringSubmatch(text)
	if sim == nil || sim[1] == dev.DefaultSimulatorListen {
		t.Fatalf("dev mode does not print the inbound event on the simulator's free port:\n%s", text)
	}
	devPost(t, "http://"+sim[1]+"/_sim/events", sim[2])
	waitFor(t, "the auto-reply in the simulator", func() bool {
		return strings.Contains(devGet(t, "http://"+sim[1]+"/_sim/numbers/106540352242922/messages", ""), "Nuestra lista de precios")
	})
	expectConversation(t, text, filepath.Join(state, "inbox-token"))
	expectDevLogin(t, text)
	expectSkills(t, text, "http://"+sim[1], filepath.Join(state, "inbox-token"))
	expectMediaArchived(t, text, "http://"+sim[1], filepath.Join(state, "inbox-token"))
	expectAgentDay(t, text, filepath.Join(state, "inbox-token"))
	mediaDir := filepath.Join(state, "media", "acme_inbox-support")
	if entries, err := os.ReadDir(mediaDir); err != nil || len(entries) == 0 {
		t.Errorf("the inbox's media archive %s: %d entries, %v", mediaDir, len(entries), err)
	}

	// A quality event sends phone_number_quality_update to the inbox, which asks the
	// manager (the refresh annotation) to read the rating at once.
	devPost(t, "http://"+sim[1]+"/_sim/events", `{"number":"106540352242922","quality":{"rating":"RED"}}`)
	expectDevQuality(t, ctx, c, "RED")
	expectRefreshHandled(t, ctx, c)

	// The garbage collector of the dev control plane's kube-controller-manager: deleting a
	// Number removes its sender Deployment (owner reference), and the dev kubelet stops its
	// process; deleting the namespace removes everything in it, and the namespace itself.
	expectGarbageCollected(t, ctx, c, out)

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("dev mode ended with %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("dev mode did not stop after Ctrl-C")
	}
	if _, err := os.Stat(kubeconfig); !os.IsNotExist(err) {
		t.Errorf("kubeconfig left behind: %v", err)
	}
	if _, err := os.Stat(filepath.Join(state, "media")); !os.IsNotExist(err) {
		t.Errorf("media archive left behind: %v", err)
	}
	if err := c.List(context.Background(), &numbers); err == nil {
		t.Error("the control plane still answers after dev mode stopped")
	}
	if pids := devChildren(t, func([]string) bool { return true }); len(pids) > 0 {
		t.Errorf("processes left behind after Ctrl-C: %v", pids)
	}
}

// expectGarbageCollected deletes the sample Number support-en, then the namespace acme,
// as `kubectl delete` would (background propagation), and waits for the Deployments and
// the dev-mode processes to go as they would on a cluster.
func expectGarbageCollected(t *testing.T, ctx context.Context, c client.Client, out *signalWriter) {
	t.Helper()
	senderOf := func(number string) func([]string) bool {
		return func(args []string) bool {
			return args[1] == contract.SenderSubcommand && slices.Contains(args, "--"+contract.SenderFlag+"="+number)
		}
	}
	if pids := devChildren(t, senderOf("acme/support-en")); len(pids) != 1 {
		t.Fatalf("the sender of support-en runs as %d processes, want 1", len(pids))
	}
	num := &sbv1.Number{ObjectMeta: metav1.ObjectMeta{Namespace: "acme", Name: "support-en"}}
	if err := c.Delete(ctx, num); err != nil {
		t.Fatal(err)
	}
	dep := &appsv1.Deployment{}
	waitFor(t, "the garbage collector to delete sender-support-en", func() bool {
		return apierrors.IsNotFound(c.Get(ctx, client.ObjectKey{Namespace: "acme", Name: "sender-support-en"}, dep))
	})
	waitFor(t, "the process of sender-support-en to stop", func() bool { return len(devChildren(t, senderOf("acme/support-en"))) == 0 })
	if !strings.Contains(out.String(), "Deployment acme/sender-support-en is gone; its process stopped") {
		t.Errorf("dev mode does not say the sender's process stopped:\n%s", out)
	}
	if len(devChildren(t, senderOf("acme/sales-es"))) != 1 {
		t.Error("the sender of sales-es stopped too")
	}

	if err := c.Delete(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "acme"}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the namespace controller to delete acme", func() bool {
		return apierrors.IsNotFound(c.Get(ctx, client.ObjectKey{Name: "acme"}, &corev1.Namespace{}))
	})
	workload := func(args []string) bool {
		return args[1] == contract.SenderSubcommand || args[1] == contract.InboxSubcommand
	}
	waitFor(t, "every workload process to stop", func() bool { return len(devChildren(t, workload)) == 0 })
}

// devChildren lists the live processes this test process started (dev mode's workloads,
// and the control plane: etcd, kube-apiserver, kube-controller-manager) whose arguments match,
// as "PID ARGS".
func devChildren(t *testing.T, match func(args []string) bool) []string {
	t.Helper()
	dirs, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	self := strconv.Itoa(os.Getpid())
	var out []string
	for _, d := range dirs {
		if _, err := strconv.Atoi(d.Name()); err != nil {
			continue
		}
		stat, err1 := os.ReadFile(filepath.Join("/proc", d.Name(), "stat"))
		cmdline, err2 := os.ReadFile(filepath.Join("/proc", d.Name(), "cmdline"))
		if err1 != nil || err2 != nil {
			continue // it ended meanwhile
		}
		// stat: "PID (COMM) STATE PPID ..."; COMM may hold spaces, not ')'.
		fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		args := strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")
		if len(fields) < 2 || fields[1] != self || fields[0] == "Z" || len(args) < 2 {
			continue
		}
		if match(args) {
			out = append(out, d.Name()+" "+strings.Join(args, " "))
		}
	}
	return out
}

// expectDevQuality waits until the sample Number sales-es reports the quality rating.
func expectDevQuality(t *testing.T, ctx context.Context, c client.Client, rating string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	n := &sbv1.Number{}
	for time.Now().Before(deadline) {
		if err := c.Get(ctx, client.ObjectKey{Namespace: "acme", Name: "sales-es"}, n); err == nil &&
			n.Status.Quality != nil && n.Status.Quality.Rating == rating {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("sales-es quality is %+v, want %s", n.Status.Quality, rating)
}

// expectInboxReady waits until the sample Inbox is Ready: its process runs in dev mode.
func expectInboxReady(t *testing.T, ctx context.Context, c client.Client) {
	t.Helper()
	ib := &sbv1.Inbox{}
	waitFor(t, "the sample Inbox Ready=True", func() bool {
		return c.Get(ctx, client.ObjectKey{Namespace: "acme", Name: "support"}, ib) == nil &&
			meta.IsStatusConditionTrue(ib.Status.Conditions, sbv1.ReadyCondition)
	})
}

// expectConversation reads the customer's conversation and its two messages (the
// question and the auto-reply) with the printed read-API commands and token.
func expectConversation(t *testing.T, text, tokenFile string) {
	t.Helper()
	info, err := os.Stat(tokenFile)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("inbox-token: %v %v", info, err)
	}
	token, _ := os.ReadFile(tokenFile)
	if !strings.Contains(text, strings.TrimSpace(string(token))) {
		t.Errorf("the output does not print the read API's token")
	}
	api := regexp.MustCompile(`Bearer \$\(cat \S+\)" (http://127\.0\.0\.1:\d+/api/v1/conversations)\n`).FindStringSubmatch(text)
	if api == nil || strings.Contains(api[1], dev.DefaultInboxListen) {
		t.Fatalf("dev mode does not print the conversations command on the inbox's free port:\n%s", text)
	}
	var convs struct {
		Items []struct {
			ID   int64  `json:"id"`
			WAID string `json:"waId"`
		}
	}
	devJSON(t, api[1], string(token), &convs)
	if len(convs.Items) != 1 || convs.Items[0].WAID != "34622222222" {
		t.Fatalf("conversations: %+v", convs)
	}
	// The question, the reply and, outside the business hours of RoutingPolicy sales
	// (this depends on the time of day), its after-hours reply.
	var msgs struct{ Items []devMessage }
	devJSON(t, fmt.Sprintf("%s/%d/messages", api[1], convs.Items[0].ID), string(token), &msgs)
	reply := func(m devMessage) bool {
		return m.Direction == "out" && strings.HasPrefix(m.Text, "Nuestra lista de precios")
	}
	if n := len(msgs.Items); n < 2 || n > 3 || msgs.Items[0] != (devMessage{"in", "¿cuánto cuesta?"}) ||
		!slices.ContainsFunc(msgs.Items[1:], reply) {
		t.Errorf("messages: %+v", msgs.Items)
	}
}

// expectDevLogin logs in as the sample agent ana with the printed command and dev
// password (her team, iberia, from RoutingPolicy sales), over plain HTTP on loopback;
// the other sample agents are listed.
func expectDevLogin(t *testing.T, text string) {
	t.Helper()
	for _, want := range []string{"sofia", "supervisor", "sofia-dev-password", "admin-dev-password", "diego-dev-password"} {
		if !strings.Contains(text, want) {
			t.Errorf("the output lacks %q", want)
		}
	}
	m := regexp.MustCompile(`-d '(\{"login":"ana"[^']*\})' (http://127\.0\.0\.1:\d+/api/v1/login)\n`).FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("dev mode does not print the login command:\n%s", text)
	}
	res, err := http.Post(m[2], "application/json", strings.NewReader(m[1]))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = res.Body.Close() }()
	var me struct {
		Subject string   `json:"subject"`
		Role    string   `json:"role"`
		Teams   []string `json:"teams"`
	}
	if err := json.NewDecoder(res.Body).Decode(&me); err != nil || res.StatusCode != 200 || me.Subject != "ana" ||
		me.Role != "agent" || !slices.Equal(me.Teams, []string{"iberia"}) {
		t.Fatalf("ana's login: %d %+v %v", res.StatusCode, me, err)
	}
	if len(res.Cookies()) != 1 || res.Cookies()[0].Secure || !res.Cookies()[0].HttpOnly {
		t.Fatalf("dev session cookie %+v", res.Cookies())
	}
}

// expectSkills: the sample conversations get a required skill for RoutingPolicy sales
// (strategy Skills): the KeywordRule precios-es's routeToSkill for a price question, and
// sales-es's spec.routing.defaultSkill (es) for anything else.
func expectSkills(t *testing.T, text, simURL, tokenFile string) {
	t.Helper()
	token, _ := os.ReadFile(tokenFile)
	api := regexp.MustCompile(`Bearer \$\(cat \S+\)" (http://127\.0\.0\.1:\d+/api/v1/conversations)\n`).FindStringSubmatch(text)
	if api == nil {
		t.Fatalf("dev mode does not print the conversations command:\n%s", text)
	}
	devPost(t, simURL+"/_sim/events", fmt.Sprintf(`{"number":%q,"inbound":{"from":"34633333333","text":"hola"}}`, "106540352242922"))
	skills := func() map[string]string {
		var convs struct {
			Items []struct {
				WAID          string `json:"waId"`
				RequiredSkill string `json:"requiredSkill"`
			}
		}
		devJSON(t, api[1], string(token), &convs)
		out := map[string]string{}
		for _, c := range convs.Items {
			out[c.WAID] = c.RequiredSkill
		}
		return out
	}
	waitFor(t, "the new conversation", func() bool { _, ok := skills()["34633333333"]; return ok })
	if got := skills(); got["34622222222"] != "billing" || got["34633333333"] != "es" {
		t.Errorf("required skills %v, want 34622222222 billing (precios-es) and 34633333333 es (sales-es's default)", got)
	}
}

// expectMediaArchived: an inbound image through the simulator is downloaded from the
// simulator's media endpoints into the inbox's dev archive (--media-dir): its row ends
// stored with a sha256, and GET /api/v1/media/{id} with the read token serves the bytes.
func expectMediaArchived(t *testing.T, text, simURL, tokenFile string) {
	t.Helper()
	token, _ := os.ReadFile(tokenFile)
	api := regexp.MustCompile(`Bearer \$\(cat \S+\)" (http://127\.0\.0\.1:\d+)/api/v1/conversations\n`).FindStringSubmatch(text)
	if api == nil {
		t.Fatalf("dev mode does not print the conversations command:\n%s", text)
	}
	devPost(t, simURL+"/_sim/events", `{"number":"106540352242922","inbound":{"from":"34644444444","type":"image","text":"la foto"}}`)
	var msgID, mediaID int64
	waitFor(t, "the image's message", func() bool {
		var convs struct {
			Items []struct {
				ID   int64  `json:"id"`
				WAID string `json:"waId"`
			}
		}
		devJSON(t, api[1]+"/api/v1/conversations", string(token), &convs)
		for _, c := range convs.Items {
			if c.WAID != "34644444444" {
				continue
			}
			var msgs struct {
				Items []struct {
					ID      int64  `json:"id"`
					MediaID *int64 `json:"mediaId"`
				}
			}
			devJSON(t, fmt.Sprintf("%s/api/v1/conversations/%d/messages", api[1], c.ID), string(token), &msgs)
			if len(msgs.Items) > 0 && msgs.Items[0].MediaID != nil {
				msgID, mediaID = msgs.Items[0].ID, *msgs.Items[0].MediaID
				return true
			}
		}
		return false
	})
	var served string
	waitFor(t, "the image archived", func() bool {
		req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("%s/api/v1/media/%d", api[1], mediaID), nil)
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = res.Body.Close() }()
		body, _ := io.ReadAll(res.Body)
		switch res.StatusCode {
		case http.StatusConflict: // not stored yet
			return false
		case http.StatusOK:
			sum := sha256.Sum256(body)
			served = hex.EncodeToString(sum[:])
			if len(body) == 0 || res.Header.Get("X-Content-SHA256") != served {
				t.Fatalf("GET /api/v1/media/%d: %d bytes, X-Content-SHA256 %q", mediaID, len(body), res.Header.Get("X-Content-SHA256"))
			}
			return true
		default:
			t.Fatalf("GET /api/v1/media/%d: %s %s", mediaID, res.Status, body)
			return false
		}
	})
	var row struct {
		ID     int64  `json:"id"`
		State  string `json:"state"`
		SHA256 string `json:"sha256"`
	}
	devJSON(t, fmt.Sprintf("%s/api/v1/messages/%d/media", api[1], msgID), string(token), &row)
	if row.ID != mediaID || row.State != "stored" || row.SHA256 != served {
		t.Errorf("the image's media row %+v, want id %d stored with sha256 %s", row, mediaID, served)
	}
}

// expectAgentDay runs the printed agent's day with sh and curl, as a person would, on the
// first conversation (34622222222's, team iberia): ana goes online; if the routing does
// not assign it to her (outside RoutingPolicy sales' business hours), the supervisor
// sofia assigns it by hand as printed; then ana accepts, replies and resolves.
func expectAgentDay(t *testing.T, text, tokenFile string) {
	t.Helper()
	token, _ := os.ReadFile(tokenFile)
	api := regexp.MustCompile(`Bearer \$\(cat \S+\)" (http://127\.0\.0\.1:\d+)/api/v1/conversations\n`).FindStringSubmatch(text)
	if api == nil {
		t.Fatalf("dev mode does not print the conversations command:\n%s", text)
	}
	var convs struct {
		Items []struct {
			ID       int64  `json:"id"`
			WAID     string `json:"waId"`
			Assignee string `json:"assignee"`
			Status   string `json:"status"`
		}
	}
	conv := func() (id int64, assignee, status string) {
		devJSON(t, api[1]+"/api/v1/conversations", string(token), &convs)
		for _, c := range convs.Items {
			if c.WAID == "34622222222" {
				return c.ID, c.Assignee, c.Status
			}
		}
		t.Fatalf("no conversation of 34622222222: %+v", convs.Items)
		return 0, "", ""
	}
	id, _, _ := conv()
	jars := t.TempDir()
	// step runs the printed lines holding each of marks, in one shell, with ID and the
	// cookie jars replaced; every curl but the logins reports its HTTP status.
	step := func(marks ...string) string {
		t.Helper()
		var script []string
		for _, m := range marks {
			line := ""
			for _, l := range strings.Split(text, "\n") {
				if strings.HasPrefix(l, "  ") && strings.Contains(l, m) {
					line = strings.TrimSpace(l)
					break
				}
			}
			if line == "" {
				t.Fatalf("the walkthrough prints no command with %q:\n%s", m, text)
			}
			line = strings.NewReplacer("/tmp/sb-", jars+"/sb-", "/ID/", fmt.Sprintf("/%d/", id)).Replace(line)
			if strings.HasPrefix(line, "curl ") {
				line = `curl -s -w ' HTTP %{http_code}\n' ` + strings.TrimPrefix(line, "curl ")
			}
			script = append(script, line)
		}
		out, err := exec.Command("sh", "-ec", strings.Join(script, "\n")).CombinedOutput()
		if err != nil {
			t.Fatalf("%v running\n%s\n%s", err, strings.Join(script, "\n"), out)
		}
		return string(out)
	}
	expectOK := func(out string, n int) {
		t.Helper()
		if got := regexp.MustCompile(` HTTP 20[01]\n`).FindAllString(out, -1); len(got) != n {
			t.Fatalf("%d of %d printed commands succeeded:\n%s", len(got), n, out)
		}
	}
	expectOK(step("CSRF=$(", "/api/v1/me/availability"), 1)
	assigned := false
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline) && !assigned; time.Sleep(200 * time.Millisecond) {
		_, who, _ := conv()
		assigned = who == "ana"
	}
	if !assigned { // after hours: it waits, and the supervisor assigns it by hand
		if !strings.Contains(devGet(t, api[1]+"/api/v1/conversations?waiting=true", string(token)), `"waId":"34622222222"`) {
			t.Fatalf("the conversation is neither ana's nor waiting: %+v", convs.Items)
		}
		expectOK(step("SOFIA_CSRF=$(", `-d '{"agent":"ana"}'`), 1)
		if _, who, _ := conv(); who != "ana" {
			t.Fatalf("after sofia's assign the conversation is %q's", who)
		}
	}
	expectOK(step("CSRF=$(", "/accept", `"text":"Hola`, "/resolve"), 3)
	if _, _, status := conv(); status != "resolved" {
		t.Errorf("after the walkthrough the conversation is %s, want resolved", status)
	}
}

// devMessage is what the test reads of a message from the read API.
type devMessage struct{ Direction, Text string }

// expectRefreshHandled checks that the inbox set the refresh annotation on sales-es and
// the manager handled it.
func expectRefreshHandled(t *testing.T, ctx context.Context, c client.Client) {
	t.Helper()
	n := &sbv1.Number{}
	waitFor(t, "the quality refresh handled", func() bool {
		return c.Get(ctx, client.ObjectKey{Namespace: "acme", Name: "sales-es"}, n) == nil &&
			n.Annotations[contract.QualityRefreshAnnotation] != "" &&
			n.Status.LastHandledQualityRefresh == n.Annotations[contract.QualityRefreshAnnotation]
	})
}

// waitFor polls cond for up to a minute.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

func devPost(t *testing.T, url, body string) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("POST %s: %v %v", url, resp, err)
	}
	resp.Body.Close()
}

// devGet answers the body of a GET, with a bearer token when given.
func devGet(t *testing.T, url, token string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(token))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s %s", url, resp.Status, b)
	}
	return string(b)
}

func devJSON(t *testing.T, url, token string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(devGet(t, url, token)), v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}

// logOnFailure shows dev mode's output and the inbox's log when the test failed.
func logOnFailure(t *testing.T, out *signalWriter, state string) {
	if !t.Failed() {
		return
	}
	log, _ := os.ReadFile(filepath.Join(state, "workloads", "acme_inbox-support.log"))
	t.Logf("dev mode printed:\n%s\ninbox log:\n%s", out, log)
}
