// Package timeline writes timelines in the Chrome trace event format, the
// JSON that Perfetto (ui.perfetto.dev) and chrome://tracing open: a list of
// events, each with a phase (ph), a time in microseconds (ts), a process
// (pid) and a thread (tid).
package timeline

import (
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// Phase is an event's ph field.
type Phase string

const (
	Complete Phase = "X" // a span: TS and Dur
	Instant  Phase = "i" // a point in time
	Metadata Phase = "M" // names a process or thread
)

// Event is one trace event.
type Event struct {
	Name  string         `json:"name"`
	Cat   string         `json:"cat,omitempty"`
	Ph    Phase          `json:"ph"`
	TS    float64        `json:"ts"`
	Dur   float64        `json:"dur,omitempty"`
	PID   int            `json:"pid"`
	TID   int            `json:"tid"`
	Scope string         `json:"s,omitempty"` // of an instant: "t" thread, "p" process, "g" global
	Args  map[string]any `json:"args,omitempty"`
}

// Micros converts a duration to the format's microseconds.
func Micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// ThreadName is the metadata event that names thread tid of process pid.
func ThreadName(pid, tid int, name string) Event {
	return Event{Name: "thread_name", Ph: Metadata, PID: pid, TID: tid, Args: map[string]any{"name": name}}
}

// ProcessName is the metadata event that names process pid.
func ProcessName(pid int, name string) Event {
	return Event{Name: "process_name", Ph: Metadata, PID: pid, Args: map[string]any{"name": name}}
}

// Write writes events as a JSON array, one event per line.
func Write(w io.Writer, events []Event) error {
	if _, err := io.WriteString(w, "[\n"); err != nil {
		return err
	}
	for i, e := range events {
		if e.Ph == "" || e.Name == "" {
			return fmt.Errorf("timeline: event %d has no name or phase", i)
		}
		b, err := json.Marshal(e)
		if err != nil {
			return fmt.Errorf("timeline: event %d: %w", i, err)
		}
		sep := ",\n"
		if i == len(events)-1 {
			sep = "\n"
		}
		if _, err := fmt.Fprintf(w, "%s%s", b, sep); err != nil {
			return err
		}
	}
	_, err := io.WriteString(w, "]\n")
	return err
}
