package tokenizer

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

// Replace and Prepend normalizers (SentencePiece-style files use them next to
// Precompiled: XLM-R's Replace(Regex(" {2,}"), " "), Llama's
// Replace(" ", "▁") and Prepend("▁")).

func init() {
	registerNormalizer("Replace", newReplaceNormalizer)
	registerNormalizer("Prepend", newPrependNormalizer)
}

// ---- Replace ----

// replaceNormalizer replaces every match of a pattern by content. The crate
// compiles both pattern kinds with Oniguruma (a String pattern is escaped
// first); Go's RE2 agrees with it on the subset accepted by onigToRE2, and
// anything outside that subset is refused rather than approximated.
type replaceNormalizer struct {
	re      *regexp.Regexp
	content string
}

func newReplaceNormalizer(raw json.RawMessage) (normalizer, error) {
	var c struct {
		Pattern *struct {
			String *string `json:"String"`
			Regex  *string `json:"Regex"`
		} `json:"pattern"`
		Content *string `json:"content"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("tokenizer: Replace: %w", err)
	}
	if c.Pattern == nil || c.Content == nil || (c.Pattern.String == nil) == (c.Pattern.Regex == nil) {
		return nil, errors.New(`tokenizer: Replace: needs "content" and a "pattern" with exactly one of "String" or "Regex"`)
	}
	var expr string
	if c.Pattern.String != nil {
		expr = regexp.QuoteMeta(*c.Pattern.String)
	} else {
		var err error
		if expr, err = onigToRE2(*c.Pattern.Regex); err != nil {
			return nil, fmt.Errorf("tokenizer: Replace: regex %q: %w", *c.Pattern.Regex, err)
		}
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: Replace: %w", err)
	}
	return &replaceNormalizer{re: re, content: *c.Content}, nil
}

// normalize follows the crate's NormalizedString::replace: text between
// matches keeps its alignments; every character of content takes the
// alignment of the last byte of the match (for an empty match, of the byte
// before it, or the start of the piece).
func (r *replaceNormalizer) normalize(ws *workspace, n *normalized) error {
	if len(n.s) == 0 {
		return nil
	}
	locs := r.re.FindAllIndex(n.s, -1)
	if len(locs) == 0 {
		return nil
	}
	n.s2 = n.s2[:0]
	n.align2 = n.align2[:0]
	last := 0
	for _, m := range locs {
		start, end := m[0], m[1]
		n.s2 = append(n.s2, n.s[last:start]...)
		n.align2 = append(n.align2, n.align[last:start]...)
		a := span{n.origStart, n.origStart}
		if end >= 1 {
			a = n.align[end-1]
		}
		n.appendString(r.content, a)
		last = end
	}
	n.s2 = append(n.s2, n.s[last:]...)
	n.align2 = append(n.align2, n.align[last:]...)
	n.swap()
	return nil
}

// onigToRE2 translates an Oniguruma pattern (the crate's SysRegex, Unicode
// mode) into an RE2 pattern with the same matches, or fails on constructs
// whose meaning differs or that RE2 lacks: anchors and word boundaries (line
// semantics differ), look-around, atomic groups, possessive quantifiers,
// back-references, inline options, POSIX brackets, nested classes and
// property escapes (Unicode editions differ). \s \d \w and their negations
// become explicit Unicode classes as Oniguruma defines them.
func onigToRE2(p string) (string, error) {
	const (
		space = `\t\n\v\f\r\x{85}\p{Z}`
		digit = `\p{Nd}`
		word  = `\p{L}\p{M}\p{Nd}\p{Pc}`
	)
	var b strings.Builder
	inClass := false
	classStart := false // just after "[" or "[^"
	for i := 0; i < len(p); {
		r, sz := utf8.DecodeRuneInString(p[i:])
		if r == utf8.RuneError && sz == 1 {
			return "", errors.New("invalid UTF-8")
		}
		switch {
		case r == '\\':
			if i+1 >= len(p) {
				return "", errors.New("trailing backslash")
			}
			e, esz := utf8.DecodeRuneInString(p[i+1:])
			i += 1 + esz
			switch e {
			case 's', 'd', 'w':
				cls := map[rune]string{'s': space, 'd': digit, 'w': word}[e]
				if inClass {
					b.WriteString(cls)
				} else {
					b.WriteString("[" + cls + "]")
				}
			case 'S', 'D', 'W':
				if inClass {
					return "", fmt.Errorf(`\%c inside a character class is not supported`, e)
				}
				cls := map[rune]string{'S': space, 'D': digit, 'W': word}[e]
				b.WriteString("[^" + cls + "]")
			case 't', 'n', 'r', 'f', 'v', 'a':
				b.WriteByte('\\')
				b.WriteRune(e)
			case 'e':
				b.WriteString(`\x1b`)
			case 'x':
				// \xHH or \x{H...}: same syntax in RE2.
				j := i
				if j < len(p) && p[j] == '{' {
					k := strings.IndexByte(p[j:], '}')
					if k < 0 {
						return "", errors.New(`unterminated \x{`)
					}
					j += k + 1
				} else {
					for j < len(p) && j < i+2 && isHexDigit(p[j]) {
						j++
					}
					if j == i {
						return "", errors.New(`\x without hex digits`)
					}
				}
				b.WriteString(`\x` + p[i:j])
				i = j
			case 'u':
				if i+4 > len(p) || !isHexDigit(p[i]) || !isHexDigit(p[i+1]) || !isHexDigit(p[i+2]) || !isHexDigit(p[i+3]) {
					return "", errors.New(`\u needs four hex digits`)
				}
				b.WriteString(`\x{` + p[i:i+4] + `}`)
				i += 4
			default:
				if e < utf8.RuneSelf && !isASCIIAlnum(byte(e)) {
					// An escaped punctuation character is itself.
					b.WriteByte('\\')
					b.WriteRune(e)
				} else {
					return "", fmt.Errorf(`escape \%c is not supported`, e)
				}
			}
			classStart = false
			continue
		case inClass:
			switch {
			case r == ']' && !classStart:
				inClass = false
			case r == '[':
				return "", errors.New("nested classes and POSIX brackets are not supported")
			case r == '&' && strings.HasPrefix(p[i:], "&&"):
				return "", errors.New("class intersection is not supported")
			case r == '^' && classStart && p[i-1] == '[':
				b.WriteByte('^')
				i++
				continue // still at the start of the class
			}
			classStart = false
			b.WriteString(p[i : i+sz])
			i += sz
			continue
		case r == '[':
			inClass, classStart = true, true
			b.WriteByte('[')
			i++
			continue
		case r == '^' || r == '$':
			return "", fmt.Errorf("anchor %c is not supported", r)
		case r == '(':
			if strings.HasPrefix(p[i:], "(?") && !strings.HasPrefix(p[i:], "(?:") {
				return "", errors.New("only (?: groups are supported")
			}
		case r == '{':
			// Oniguruma reads {,n} as {0,n}; RE2 as a literal.
			if strings.HasPrefix(p[i:], "{,") {
				return "", errors.New("{,n} quantifiers are not supported")
			}
			if k := strings.IndexByte(p[i:], '}'); k > 0 && isInterval(p[i+1:i+k]) {
				b.WriteString(p[i : i+k+1])
				i += k + 1
				if i < len(p) && p[i] == '+' {
					return "", errors.New("possessive quantifiers are not supported")
				}
				continue
			}
		case r == '*' || r == '+' || r == '?':
			if i+1 < len(p) && p[i+1] == '+' {
				return "", errors.New("possessive quantifiers are not supported")
			}
		}
		b.WriteString(p[i : i+sz])
		i += sz
	}
	if inClass {
		return "", errors.New("unterminated character class")
	}
	return b.String(), nil
}

func isHexDigit(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func isASCIIAlnum(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

// isInterval reports whether s (between braces) is n, n, or n,m.
func isInterval(s string) bool {
	digits := func(t string) bool {
		if t == "" {
			return false
		}
		for i := 0; i < len(t); i++ {
			if t[i] < '0' || t[i] > '9' {
				return false
			}
		}
		return true
	}
	a, bb, comma := strings.Cut(s, ",")
	if !comma {
		return digits(a)
	}
	return digits(a) && (bb == "" || digits(bb))
}

// ---- Prepend ----

type prependNormalizer struct{ prepend string }

func newPrependNormalizer(raw json.RawMessage) (normalizer, error) {
	var c struct {
		Prepend *string `json:"prepend"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("tokenizer: Prepend: %w", err)
	}
	if c.Prepend == nil {
		return nil, errors.New(`tokenizer: Prepend: missing "prepend"`)
	}
	return prependNormalizer{*c.Prepend}, nil
}

func (p prependNormalizer) normalize(ws *workspace, n *normalized) error {
	n.prepend(p.prepend)
	return nil
}

// prepend inserts s before a non-empty text, every inserted character taking
// the alignment of the first character (the crate's NormalizedString::prepend).
func (n *normalized) prepend(s string) {
	if len(n.s) == 0 || len(s) == 0 {
		return
	}
	a := n.align[0]
	n.s2 = append(n.s2[:0], s...)
	n.align2 = n.align2[:0]
	for k := 0; k < len(s); k++ {
		n.align2 = append(n.align2, a)
	}
	n.s2 = append(n.s2, n.s...)
	n.align2 = append(n.align2, n.align...)
	n.swap()
}
