package hub

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Defaults, each overridable by a Client field or an environment variable.
const (
	DefaultEndpoint    = "https://huggingface.co"
	DefaultNPMRegistry = "https://registry.npmjs.org"
	defaultTimeout     = 10 * time.Second
)

// expandPath expands a leading "~" and $VARS the way Python's
// os.path.expanduser(os.path.expandvars(p)) does; "~" is the home folder on
// every system.
func expandPath(p string) string {
	p = os.ExpandEnv(p)
	if p == "~" || strings.HasPrefix(p, "~/") || strings.HasPrefix(p, `~\`) {
		if home, err := os.UserHomeDir(); err == nil {
			p = filepath.Join(home, p[1:])
		}
	}
	return p
}

// getenv returns a variable's value; an empty value counts as unset (Python
// would take "" literally and use a relative path; sie does not).
func getenv(name string) string { return os.Getenv(name) }

// HFHome is $HF_HOME, else $XDG_CACHE_HOME/huggingface, else
// ~/.cache/huggingface (on every system, as huggingface_hub does; never
// os.UserCacheDir).
func HFHome() string {
	if h := getenv("HF_HOME"); h != "" {
		return expandPath(h)
	}
	if x := getenv("XDG_CACHE_HOME"); x != "" {
		return filepath.Join(expandPath(x), "huggingface")
	}
	return filepath.Join(expandPath("~"), ".cache", "huggingface")
}

// DefaultCacheDir is the hub cache huggingface_hub uses: $HF_HUB_CACHE, else
// $HUGGINGFACE_HUB_CACHE, else HFHome()/hub.
func DefaultCacheDir() string {
	for _, v := range []string{"HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"} {
		if d := getenv(v); d != "" {
			return expandPath(d)
		}
	}
	return filepath.Join(HFHome(), "hub")
}

// envTrue reads a boolean variable as huggingface_hub does: true for 1, ON,
// YES or TRUE in any case.
func envTrue(name string) bool {
	switch strings.ToUpper(strings.TrimSpace(os.Getenv(name))) {
	case "1", "ON", "YES", "TRUE":
		return true
	}
	return false
}

// EnvOffline reports HF_HUB_OFFLINE (or, when that is unset,
// TRANSFORMERS_OFFLINE).
func EnvOffline() bool {
	if os.Getenv("HF_HUB_OFFLINE") != "" {
		return envTrue("HF_HUB_OFFLINE")
	}
	return envTrue("TRANSFORMERS_OFFLINE")
}

// EnvToken reads the token as huggingface_hub does: $HF_TOKEN, else
// $HUGGING_FACE_HUB_TOKEN, else the file $HF_TOKEN_PATH (default
// HFHome()/token), with line breaks removed and spaces trimmed. The file is
// only read, never written. HF_HUB_DISABLE_IMPLICIT_TOKEN turns all of this
// off.
func EnvToken() string {
	if envTrue("HF_HUB_DISABLE_IMPLICIT_TOKEN") {
		return ""
	}
	clean := func(s string) string {
		return strings.TrimSpace(strings.NewReplacer("\r", "", "\n", "").Replace(s))
	}
	for _, v := range []string{"HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"} {
		if t := clean(os.Getenv(v)); t != "" {
			return t
		}
	}
	p := getenv("HF_TOKEN_PATH")
	if p == "" {
		p = filepath.Join(HFHome(), "token")
	}
	data, err := os.ReadFile(expandPath(p))
	if err != nil {
		return ""
	}
	return clean(string(data))
}

// envSeconds reads a timeout in whole seconds; unset, invalid or 0 gives
// the default.
func envSeconds(name string) time.Duration {
	n, err := strconv.Atoi(strings.TrimSpace(os.Getenv(name)))
	if err != nil || n <= 0 {
		return defaultTimeout
	}
	return time.Duration(n) * time.Second
}
