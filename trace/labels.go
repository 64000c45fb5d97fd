package trace

import "maps"

// MaxLabels bounds the labels a Labels keeps.
const MaxLabels = 1024

// Labels are the mark and scheduling-point labels a vCPU has read, by the
// guest address they were read from. A guest passes string literals, so
// each is read once; one that passes more than MaxLabels distinct
// addresses has the rest read at every call, and nothing grows. The zero
// value is empty and ready.
type Labels struct{ m map[uint64]string }

// Get returns the label read from va, if kept.
func (l *Labels) Get(va uint64) (string, bool) {
	s, ok := l.m[va]
	return s, ok
}

// Add keeps the label s read from va, unless MaxLabels are kept already.
func (l *Labels) Add(va uint64, s string) {
	if l.m == nil {
		l.m = map[uint64]string{}
	}
	if len(l.m) < MaxLabels {
		l.m[va] = s
	}
}

// Len is the number of labels kept.
func (l *Labels) Len() int { return len(l.m) }

// Clone returns a copy of l.
func (l *Labels) Clone() Labels { return Labels{maps.Clone(l.m)} }
