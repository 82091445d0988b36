// Package logging builds the structured logger every switchboard process uses.
package logging

import (
	"fmt"
	"io"
	"log/slog"

	"github.com/go-logr/logr"
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
