//go:build unix

package wire

import "syscall"

// openFileLimit is the soft RLIMIT_NOFILE, or 0 when unknown.
func openFileLimit() uint64 {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return 0
	}
	return r.Cur
}
