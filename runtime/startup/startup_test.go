package startup_test

import (
	"errors"
	"flag"
	"strings"
	"testing"

	"github.com/switchboard-dev/switchboard/runtime/startup"
)

const env = "STARTUP_TEST_DATABASE_URL"

func TestBegin(t *testing.T) {
	level, encoding := "info", "json"
	ok := func() error { return nil }
	t.Setenv(env, "postgres://db/x")

	if log, dsn, help, err := startup.Begin(ok, &level, &encoding, env, "the test"); err != nil || help || log == nil || dsn != "postgres://db/x" {
		t.Errorf("a good start: log %v, dsn %q, help %v, err %v", log, dsn, help, err)
	}
	if _, _, help, err := startup.Begin(func() error { return flag.ErrHelp }, &level, &encoding, env, "the test"); !help || err != nil {
		t.Errorf("--help: help %v, err %v; want true, nil", help, err)
	}
	bad := errors.New("--workers must be at least 1")
	if _, _, help, err := startup.Begin(func() error { return bad }, &level, &encoding, env, "the test"); help || !errors.Is(err, bad) {
		t.Errorf("a bad flag: help %v, err %v; want parse's error", help, err)
	}
	loud := "loud"
	if _, _, _, err := startup.Begin(ok, &loud, &encoding, env, "the test"); err == nil || !strings.Contains(err.Error(), "loud") {
		t.Errorf("--log-level=loud: %v; want an error naming the value", err)
	}
	t.Setenv(env, "")
	if _, _, _, err := startup.Begin(ok, &level, &encoding, env, "the test"); err == nil || !strings.Contains(err.Error(), env) {
		t.Errorf("no DSN: %v; want an error naming %s", err, env)
	}
}
