//go:build !unix

package hub

import "context"

// lock is a no-op where flock is unavailable: correctness rests on unique
// temp files and atomic renames; the lock only avoids duplicate downloads.
func lock(ctx context.Context, path string) (func(), error) {
	return func() {}, ctx.Err()
}
