package bench

import (
	"fmt"
	"os/exec"
	"syscall"
)

// Neighbour is a CPU-bound process running beside a benchmark: a shell's
// empty busy loop, which never sleeps and makes no system call, so that
// rounds measured beside it show what sharing the machine does to the
// figure (and to the baseline's, measured beside it too).
type Neighbour struct{ cmd *exec.Cmd }

// StartNeighbour starts the busy loop.
func StartNeighbour() (*Neighbour, error) {
	cmd := exec.Command("sh", "-c", "while :; do :; done")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // never outlives pvsim
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the CPU-bound neighbour: %w", err)
	}
	return &Neighbour{cmd: cmd}, nil
}

// Stop kills the busy loop and waits for it.
func (n *Neighbour) Stop() {
	n.cmd.Process.Kill()
	n.cmd.Wait()
}
