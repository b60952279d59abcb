package cluster

import (
	"strings"
	"unicode"
)

// Lane names the workers that may take an item: a pool (one stream), a
// machine profile and a bundle inside it. The zero value is the default lane
// (pool "default", profile "cpu", bundle "default").
type Lane struct {
	Pool    string // "" means "default"
	Profile string // "" means "cpu"
	Bundle  string // "" means "default"
}

func (l Lane) withDefaults() Lane {
	if l.Pool == "" {
		l.Pool = "default"
	}
	if l.Profile == "" {
		l.Profile = "cpu"
	}
	if l.Bundle == "" {
		l.Bundle = "default"
	}
	return l
}

// String is the lane as pool/profile/bundle.
func (l Lane) String() string {
	l = l.withDefaults()
	return l.Pool + "/" + l.Profile + "/" + l.Bundle
}

// NormalizeToken turns a model id or a pool, profile or bundle name into one
// NATS subject token the way SIE does: "/" becomes "__", "." becomes
// "_dot_", and the wildcards "*" and ">" as well as white space become "_".
// So "vidore/colqwen2.5-v0.2" is "vidore__colqwen2_dot_5-v0_dot_2".
// The mapping is not invertible: the model name itself travels in the item.
func NormalizeToken(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '/':
			b.WriteString("__")
		case r == '.':
			b.WriteString("_dot_")
		case r == '*' || r == '>' || unicode.IsSpace(r):
			b.WriteByte('_')
		default:
			b.WriteRune(r)
		}
	}
	if b.Len() == 0 {
		return "_"
	}
	return b.String()
}

// Subject is the work subject of a model in a lane:
// sie.work.{pool}.{profile}.{bundle}.{model}.
func Subject(l Lane, model string) string {
	return laneSubjectPrefix(l) + "." + NormalizeToken(model)
}

func laneSubjectPrefix(l Lane) string {
	l = l.withDefaults()
	return "sie.work." + NormalizeToken(l.Pool) + "." + NormalizeToken(l.Profile) + "." + NormalizeToken(l.Bundle)
}

// LaneFilter is the subject filter of a lane's consumer.
func LaneFilter(l Lane) string { return laneSubjectPrefix(l) + ".*" }

// StreamName is the work-queue stream of a pool: SIE_WORK_{pool}.
func StreamName(pool string) string {
	if pool == "" {
		pool = "default"
	}
	return "SIE_WORK_" + NormalizeToken(pool)
}

// ConsumerName is the durable consumer every worker of a lane shares:
// {profile}_{bundle} inside the pool's stream.
func ConsumerName(l Lane) string {
	l = l.withDefaults()
	return NormalizeToken(l.Profile) + "_" + NormalizeToken(l.Bundle)
}

// DeadLetterStream holds items that reached their delivery limit.
const DeadLetterStream = "SIE_DLQ"

// DeadLetterSubject is where an item of a pool's model goes when it reached
// its delivery limit: sie.dlq.{pool}.{model}.
func DeadLetterSubject(pool, model string) string {
	if pool == "" {
		pool = "default"
	}
	return "sie.dlq." + NormalizeToken(pool) + "." + NormalizeToken(model)
}

// presenceSubject is a NATS Core subject the workers of a lane answer on, so
// a client learns at once (no responders) that nobody serves the lane.
func presenceSubject(l Lane) string {
	l = l.withDefaults()
	return "sie.lane." + NormalizeToken(l.Pool) + "." + NormalizeToken(l.Profile) + "." + NormalizeToken(l.Bundle)
}
