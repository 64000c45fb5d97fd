package timeline

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The output is a JSON list of events carrying ph, ts, pid and tid, as
// Perfetto's JSON importer wants.
func TestWrite(t *testing.T) {
	events := []Event{
		ProcessName(1, "domain"),
		ThreadName(1, 0, "vCPU 0"),
		{Name: "mmu_update", Cat: "hypercall", Ph: Complete, TS: Micros(1500 * time.Nanosecond), Dur: 40, PID: 1, TID: 0,
			Args: map[string]any{"rip": "xen_mmu_update+0x1c"}},
		{Name: "oops", Ph: Instant, TS: 90, PID: 1, TID: 1, Scope: "t"},
	}
	var b bytes.Buffer
	require.NoError(t, Write(&b, events))
	var got []map[string]any
	require.NoError(t, json.Unmarshal(b.Bytes(), &got))
	require.Len(t, got, len(events))
	for i, e := range got {
		for _, k := range []string{"name", "ph", "ts", "pid", "tid"} {
			assert.Contains(t, e, k, "event %d", i)
		}
	}
	assert.Equal(t, 1.5, got[2]["ts"])
	assert.Equal(t, "X", got[2]["ph"])
	assert.Equal(t, "xen_mmu_update+0x1c", got[2]["args"].(map[string]any)["rip"])

	b.Reset()
	require.NoError(t, Write(&b, nil))
	assert.Equal(t, "[\n]\n", b.String())
	assert.Error(t, Write(&b, []Event{{Name: "no phase"}}))
}
