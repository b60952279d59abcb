package hub

import (
	"fmt"
	"net/url"
	"path/filepath"
	"runtime"
	"strings"
)

// validRepo checks a hub repository id, "org/name" or a legacy bare "name",
// and returns the cache folder name for it: "org--name" or "name".
func validRepo(repo string) (string, error) {
	parts := strings.Split(repo, "/")
	if len(parts) > 2 {
		return "", fmt.Errorf("invalid repository id %q: want org/name", repo)
	}
	for _, p := range parts {
		if err := validRepoPart(p); err != nil {
			return "", fmt.Errorf("invalid repository id %q: %v", repo, err)
		}
	}
	return strings.Join(parts, "--"), nil
}

func validRepoPart(p string) error {
	if p == "" || len(p) > 96 {
		return fmt.Errorf("empty or overlong name %q", p)
	}
	if p[0] == '.' || p[0] == '-' || strings.Contains(p, "--") || strings.Contains(p, "..") {
		return fmt.Errorf("name %q may not start with '.' or '-' or contain '--' or '..'", p)
	}
	for _, r := range p {
		if !isAlnum(r) && r != '-' && r != '_' && r != '.' {
			return fmt.Errorf("name %q contains %q", p, r)
		}
	}
	return nil
}

func isAlnum(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
}

// validRevision checks a branch, tag or commit name (slashes allowed, as in
// "refs/pr/1") and returns its escaped form, used both in URLs and as the
// cache folder name.
func validRevision(rev string) (string, error) {
	if rev == "" || len(rev) > 256 || rev[0] == '.' || rev[0] == '/' || strings.HasSuffix(rev, "/") {
		return "", fmt.Errorf("invalid revision %q", rev)
	}
	for _, seg := range strings.Split(rev, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return "", fmt.Errorf("invalid revision %q", rev)
		}
	}
	for _, r := range rev {
		if r < 0x20 || r == 0x7f || r == '\\' {
			return "", fmt.Errorf("invalid revision %q", rev)
		}
	}
	return url.PathEscape(rev), nil
}

// validFile checks a file path inside a repository ("1_Pooling/config.json")
// and returns its URL-escaped form.
func validFile(file string) (string, error) {
	if file == "" || len(file) > 1024 {
		return "", fmt.Errorf("invalid file name %q", file)
	}
	segs := strings.Split(file, "/")
	for i, seg := range segs {
		if seg == "" || seg == "." || seg == ".." {
			return "", fmt.Errorf("invalid file name %q: must be a relative path without '.' or '..' elements", file)
		}
		for _, r := range seg {
			if r < 0x20 || r == 0x7f || r == '\\' || (r == ':' && runtime.GOOS == "windows") {
				return "", fmt.Errorf("invalid file name %q: contains %q", file, r)
			}
		}
		if len(seg) >= 2 && seg[1] == ':' && isAlnum(rune(seg[0])) && !('0' <= seg[0] && seg[0] <= '9') {
			return "", fmt.Errorf("invalid file name %q: a drive path", file)
		}
		segs[i] = url.PathEscape(seg)
	}
	if !filepath.IsLocal(filepath.FromSlash(file)) {
		return "", fmt.Errorf("invalid file name %q: not a local path", file)
	}
	return strings.Join(segs, "/"), nil
}

// validNPMName checks an npm package name, "name" or "@scope/name", and
// returns the tarball base name ("name").
func validNPMName(pkg string) (string, error) {
	scope, name, scoped := strings.Cut(pkg, "/")
	if scoped {
		if len(scope) < 2 || scope[0] != '@' {
			return "", fmt.Errorf("invalid npm package name %q", pkg)
		}
		if err := validNPMPart(scope[1:]); err != nil {
			return "", fmt.Errorf("invalid npm package name %q: %v", pkg, err)
		}
	} else {
		name = scope
	}
	if err := validNPMPart(name); err != nil {
		return "", fmt.Errorf("invalid npm package name %q: %v", pkg, err)
	}
	if len(pkg) > 214 {
		return "", fmt.Errorf("invalid npm package name %q: too long", pkg)
	}
	return name, nil
}

func validNPMPart(p string) error {
	if p == "" || p[0] == '.' || p[0] == '_' {
		return fmt.Errorf("part %q is empty or starts with '.' or '_'", p)
	}
	for _, r := range p {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || strings.ContainsRune("-._~", r)) {
			return fmt.Errorf("part %q contains %q", p, r)
		}
	}
	return nil
}

// validVersion checks an exact package version such as "0.1.0" or
// "1.2.3-beta.1+build".
func validVersion(v string) error {
	if v == "" || len(v) > 256 || !isAlnum(rune(v[0])) || strings.Contains(v, "..") {
		return fmt.Errorf("invalid version %q", v)
	}
	for _, r := range v {
		if !isAlnum(r) && !strings.ContainsRune(".-+_", r) {
			return fmt.Errorf("invalid version %q", v)
		}
	}
	return nil
}
