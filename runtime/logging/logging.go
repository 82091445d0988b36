// Package logging builds the structured logger every switchboard process uses.
package logging

import (
	"fmt"
	"io"
	"log/slog"

	"github.com/go-logr/logr"
	"k8s.io/klog/v2"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
)

// New returns a logger writing to w at level (debug, info or error) in encoding
// (json or console). Errors name the flag that carries the bad value.
func New(w io.Writer, level, encoding string) (*slog.Logger, error) {
	var lvl slog.Level
	switch level {
	case "debug":
		lvl = slog.LevelDebug
	case "info":
		lvl = slog.LevelInfo
	case "error":
		lvl = slog.LevelError
	default:
		return nil, fmt.Errorf("--log-level must be debug, info or error, got %q", level)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch encoding {
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "console":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-encoding must be json or console, got %q", encoding)
}

// Logr adapts a slog logger for controller-runtime and klog.
func Logr(l *slog.Logger) logr.Logger { return logr.FromSlogHandler(l.Handler()) }

// Setup is New for a process's main logger: it also becomes the logger of
// controller-runtime and klog (client-go), so that every line is in one encoding.
func Setup(w io.Writer, level, encoding string) (*slog.Logger, error) {
	l, err := New(w, level, encoding)
	if err != nil {
		return nil, err
	}
	ctrllog.SetLogger(Logr(l))
	klog.SetLogger(Logr(l))
	return l, nil
}
