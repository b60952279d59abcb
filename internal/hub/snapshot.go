package hub

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Snapshot downloads files of a hub repository at revision (default "main")
// into {cache}/hub/{org}--{name}/{revision}/ and returns that folder. Every
// file is required: one the repository lacks gives an error wrapping
// ErrNotFound. Files already in the cache are not fetched again.
func (c *Client) Snapshot(ctx context.Context, repo, revision string, files []string) (string, error) {
	dir, _, err := c.SnapshotOptional(ctx, repo, revision, files, nil)
	return dir, err
}

// SnapshotOptional is Snapshot for a set of required files plus optional
// ones (such as "1_Pooling/config.json"). An optional file the repository
// does not have is skipped and returned in missing; that absence is
// remembered in the cache, so later calls do not ask again.
//
// A cached revision is never refreshed: for a branch such as "main" the
// cache keeps what was downloaded first. Pin a commit hash for
// reproducibility.
func (c *Client) SnapshotOptional(ctx context.Context, repo, revision string, required, optional []string) (dir string, missing []string, err error) {
	if revision == "" {
		revision = "main"
	}
	repoDir, err := validRepo(repo)
	if err != nil {
		return "", nil, fmt.Errorf("hub: %w", err)
	}
	revPart, err := validRevision(revision)
	if err != nil {
		return "", nil, fmt.Errorf("hub: %s: %w", repo, err)
	}
	type want struct {
		file, urlPath string
		optional      bool
	}
	var wants []want
	seen := make(map[string]bool)
	for i, list := range [][]string{required, optional} {
		for _, f := range list {
			u, err := validFile(f)
			if err != nil {
				return "", nil, fmt.Errorf("hub: %s: %w", repo, err)
			}
			if seen[f] {
				continue
			}
			seen[f] = true
			wants = append(wants, want{file: f, urlPath: u, optional: i == 1})
		}
	}
	cache, err := c.cacheDir()
	if err != nil {
		return "", nil, fmt.Errorf("hub: %w", err)
	}
	root := filepath.Join(cache, "hub", repoDir)
	dir = filepath.Join(root, revPart)
	missingDir := filepath.Join(root, ".missing", revPart)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", nil, fmt.Errorf("hub: %w", err)
	}

	// validRepo limits repo to URL-safe characters.
	base := c.endpoint() + "/" + repo + "/resolve/" + revPart + "/"
	token := c.token()
	for _, w := range wants {
		dest := filepath.Join(dir, filepath.FromSlash(w.file))
		ok, err := exists(dest)
		if err != nil {
			return "", nil, fmt.Errorf("hub: %w", err)
		}
		if ok {
			continue
		}
		marker := filepath.Join(missingDir, filepath.FromSlash(w.file))
		if w.optional {
			if known, err := exists(marker); err != nil {
				return "", nil, fmt.Errorf("hub: %w", err)
			} else if known {
				missing = append(missing, w.file)
				continue
			}
		}
		err = c.download(ctx, base+w.urlPath, token, dest)
		if w.optional && errors.Is(err, ErrNotFound) {
			missing = append(missing, w.file)
			// Remembering the absence is an optimisation; failing to is harmless.
			_ = writeMarker(marker)
			continue
		}
		if err != nil {
			return "", nil, fmt.Errorf("hub: %s@%s: %s: %w", repo, revision, w.file, err)
		}
	}
	return dir, missing, nil
}

func (c *Client) download(ctx context.Context, url, token, dest string) error {
	body, size, err := c.get(ctx, url, token)
	if err != nil {
		return err
	}
	defer body.Close()
	if err := writeAtomic(dest, body, size); err != nil {
		return fmt.Errorf("download %s: %w", url, err)
	}
	return nil
}

func writeMarker(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, nil, 0o644)
}
