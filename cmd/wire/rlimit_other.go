//go:build !unix

package wire

func openFileLimit() uint64 { return 0 }
