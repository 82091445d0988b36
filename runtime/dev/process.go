package dev

import (
	"os"
	"os/exec"
	"sync/atomic"
	"syscall"
	"time"
)

// stopGrace is how long stop waits after SIGTERM before SIGKILL: a kubelet's 30-second
// grace period, shortened for dev.
const stopGrace = 10 * time.Second

// process is one child of dev mode: a control-plane binary or a workload. It runs in its
// own process group (Ctrl-C in the terminal reaches dev mode only, which stops its
// children in order) and gets SIGKILL should dev mode die first (PR_SET_PDEATHSIG).
type process struct {
	cmd      *exec.Cmd
	logPath  string
	exited   chan struct{}
	stopping atomic.Bool
}

// startProcess runs path with args and env (nil: dev mode's own), its output in logPath
// (truncated). onExit, when not nil, is called should the process exit before stop.
func startProcess(path string, args, env []string, logPath string, onExit func(error)) (*process, error) {
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(path, args...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, err
	}
	p := &process{cmd: cmd, logPath: logPath, exited: make(chan struct{})}
	go func() {
		err := cmd.Wait()
		logFile.Close()
		if onExit != nil && !p.stopping.Load() {
			onExit(err)
		}
		close(p.exited)
	}()
	return p, nil
}

func (p *process) hasExited() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM (the process finishes its in-flight work), then SIGKILL after
// stopGrace, and returns once the process has exited.
func (p *process) stop() {
	p.stopping.Store(true)
	if p.hasExited() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(stopGrace):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}
