package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"syscall"
)

// devControllerManager is the name of the kube-controller-manager binary in
// --control-plane-bin (make envtest-assets builds it beside kube-apiserver and etcd).
const devControllerManager = "kube-controller-manager"

// devControllers are the kube-controller-manager controllers dev mode runs: the garbage
// collector (a deleted Number's sender or Inbox's workload goes, through their owner
// references) and the namespace controller (a deleted namespace empties and goes). Dev
// mode has no pods, so the ReplicaSet, scheduler and node controllers are not needed.
const devControllers = "garbagecollector,namespace"

// startControllerManager runs kube-controller-manager with devControllers against the
// control plane of kubeconfig, its output in logPath, until the returned stop is called
// (SIGTERM, then SIGKILL after 10 s); should it exit before, it says so on out. It must start after the CRDs are installed: the
// garbage collector notices the objects of a resource that appears later only at its
// 30-second discovery rescan. It dies with dev mode (PR_SET_PDEATHSIG) even when dev
// mode is killed.
func startControllerManager(binDir, kubeconfig, logPath string, out io.Writer) (stop func(), err error) {
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(filepath.Join(binDir, devControllerManager),
		"--kubeconfig="+kubeconfig,
		"--controllers="+devControllers,
		"--leader-elect=false",
		"--secure-port=0", // no serving port: nothing in dev mode reads its metrics or health
		"--concurrent-gc-syncs=5",
	)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("starting %s: %w", devControllerManager, err)
	}
	p := &devProc{cmd: cmd, exited: make(chan struct{})}
	var stopping atomic.Bool
	go func() {
		err := cmd.Wait()
		logFile.Close()
		if !stopping.Load() {
			fmt.Fprintf(out, "switchboard dev: %s exited (%v): deleted objects keep their dependents; see %s\n", devControllerManager, err, logPath)
		}
		close(p.exited)
	}()
	return func() { stopping.Store(true); p.terminate() }, nil
}
