// Package startup is the common start of the long-running workloads' Main (`switchboard
// sender`, `switchboard inbox`): the flags parsed, the process's logger set up from
// --log-level and --log-encoding, and the PostgreSQL DSN read from the environment.
package startup

import (
	"errors"
	"flag"
	"log/slog"
	"os"

	"github.com/switchboard-dev/switchboard/runtime/logging"
	"github.com/switchboard-dev/switchboard/runtime/store"
)

// Begin calls parse (which parses the flags into the variables logLevel and logEncoding
// point to, among others), then sets up the process's logger on stderr
// (logging.Setup: also controller-runtime's and klog's) and reads the DSN from the
// environment variable dsnEnv (store.DSNFromEnv; who names the workload in its error,
// "the inbox").
//
// help is true when parse returned flag.ErrHelp: the usage was printed, and Main ends
// with no error (exit 0). Errors: parse's, logging.Setup's naming the bad flag value,
// and store.DSNFromEnv's naming dsnEnv; nothing is started before them.
func Begin(parse func() error, logLevel, logEncoding *string, dsnEnv, who string) (log *slog.Logger, dsn string, help bool, err error) {
	if err := parse(); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, "", true, nil
		}
		return nil, "", false, err
	}
	if log, err = logging.Setup(os.Stderr, *logLevel, *logEncoding); err != nil {
		return nil, "", false, err
	}
	if dsn, err = store.DSNFromEnv(dsnEnv, who); err != nil {
		return nil, "", false, err
	}
	return log, dsn, false, nil
}
