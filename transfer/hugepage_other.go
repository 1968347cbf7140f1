//go:build !linux

package transfer

func adviseHuge([]byte) {}
