//go:build unix

package hub

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// lock takes an exclusive flock on path, the lock py-filelock's FileLock
// takes on Unix, polling so ctx can cancel the wait. The file is created
// 0664 (for caches shared between users) and never deleted. When the file
// system has no flock (ENOSYS, EPERM, ENOTSUP) it returns an unlock that
// does nothing: correctness rests on unique temp files and atomic renames,
// the lock only avoids duplicate downloads.
func lock(ctx context.Context, path string) (unlock func(), err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o775); err != nil {
		return func() {}, nil
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o664)
	if err != nil {
		// A read-only lock folder: go on without the lock.
		return func() {}, nil
	}
	_ = f.Chmod(0o664)
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() {
				_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
				f.Close()
			}, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			f.Close()
			return func() {}, nil
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}
