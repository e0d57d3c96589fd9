package dashboard

import (
	"bytes"
	"encoding/json"
	"time"
)

// frame is the message of the event streams for one sample: its "update"
// (what is new since the previous frame) or, for a stream's first message,
// its "status" (the full status). data is a whole Server-Sent Event, shared
// by every stream that sends it and never modified; nil when the frame was
// taken with no stream open.
type frame struct {
	id   uint64
	data []byte
}

// maxFrames is how many published frames the dashboard keeps for the
// streams that are behind: one further behind gets the full status.
const maxFrames = 8

// fullFresh is how long the full status of the latest frame is reused for
// the first message of new streams: its Time tells the page the server's
// clock.
const fullFresh = time.Second

// message encodes st as the Server-Sent Event event.
func message(event string, st Status) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString("event: ")
	buf.WriteString(event)
	buf.WriteString("\ndata: ")
	if err := json.NewEncoder(&buf).Encode(st); err != nil { // one line, ending in "\n"
		return nil, err
	}
	buf.WriteString("\n")
	return buf.Bytes(), nil
}

// publishLocked adds f to the published frames, dropping the oldest beyond
// maxFrames, and forgets the full status of the previous frame. Requires
// d.mu.
func (d *Dashboard) publishLocked(f frame) {
	if len(d.frames) == maxFrames {
		copy(d.frames, d.frames[1:])
		d.frames[len(d.frames)-1] = f
	} else {
		d.frames = append(d.frames, f)
	}
	if d.full.id < f.id {
		d.full = frame{}
	}
}

// pending returns the frames published after frame id sent, for a stream
// that has sent up to it; or, when some of them are gone (the stream fell
// behind) or lack a message, the full status of the latest frame instead.
func (d *Dashboard) pending(sent uint64) ([]frame, error) {
	d.mu.Lock()
	var fs []frame
	whole := true
	for _, f := range d.frames {
		if f.id > sent {
			fs = append(fs, f)
			whole = whole && f.data != nil
		}
	}
	d.mu.Unlock()
	if len(fs) > 0 && (fs[0].id != sent+1 || !whole) {
		f, err := d.fullMessage()
		return []frame{f}, err
	}
	return fs, nil
}

// fullMessage returns the "status" message of the latest frame: built
// under d.mu and encoded outside it, then reused for fullFresh by the
// streams that start meanwhile (a crowd of pages reconnecting at once
// costs one build).
func (d *Dashboard) fullMessage() (frame, error) {
	d.fullMu.Lock()
	defer d.fullMu.Unlock()
	now := d.clk.Nanotime()
	d.mu.Lock()
	if d.full.data != nil && d.full.id == d.frameID && now-d.fullAt < int64(fullFresh) {
		f := d.full
		d.mu.Unlock()
		return f, nil
	}
	f := frame{id: d.frameID}
	st := d.statusLocked(true, 0, 0, d.frameChange)
	d.mu.Unlock()
	data, err := message("status", st)
	if err != nil {
		return frame{}, err
	}
	f.data = data
	d.mu.Lock()
	if d.frameID == f.id {
		d.full, d.fullAt = f, now
	}
	d.mu.Unlock()
	return f, nil
}
