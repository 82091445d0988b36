// Command pause is the e2e cluster's pod sandbox process (containerd's sandbox_image): it
// holds the pod's namespaces, reaps the zombies that reach it as PID 1, and exits on
// SIGINT or SIGTERM. The e2e scripts build it into the image localhost/pause (see
// hack/e2e/cluster-up.sh), since the cluster pulls nothing from a registry.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for s := range sigs {
		if s != syscall.SIGCHLD {
			return
		}
		reap()
	}
}

// reap collects every exited child without blocking.
func reap() {
	for {
		pid, err := syscall.Wait4(-1, nil, syscall.WNOHANG, nil)
		if pid <= 0 || err != nil {
			return
		}
	}
}
