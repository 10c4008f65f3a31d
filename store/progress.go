package store

import (
	"encoding/json"
	"fmt"
	"time"
)

// StageStatus is where one stage of one document stands.
type StageStatus string

// Stage statuses.
const (
	StagePending   StageStatus = "pending"
	StageRunning   StageStatus = "running"
	StageCompleted StageStatus = "completed"
	StageFailed    StageStatus = "failed"
)

// StageProgress is the progress of one stage of one document.
type StageProgress struct {
	Status     StageStatus `json:"status"`
	Percent    int         `json:"progress"`
	Done       int         `json:"pages_done"`
	Total      int         `json:"pages_total"`
	Error      string      `json:"error,omitempty"`
	StartedAt  *time.Time  `json:"started_at,omitempty"`
	FinishedAt *time.Time  `json:"finished_at,omitempty"`
}

// SetDone sets Done and Total and derives Percent.
func (p *StageProgress) SetDone(done, total int) {
	p.Done, p.Total = done, total
	switch {
	case total <= 0:
		p.Percent = 0
	case done >= total:
		p.Percent = 100
	default:
		p.Percent = done * 100 / total
	}
}

func progressKey(docID, stage string) []byte { return []byte(docID + "/" + stage) }

// Progress reads one stage's progress; a stage never started is pending.
func (tx *Tx) Progress(docID, stage string) (StageProgress, error) {
	p := StageProgress{Status: StagePending}
	b := tx.bucket(bucketProgress)
	if b == nil {
		return p, nil
	}
	v := b.Get(progressKey(docID, stage))
	if v == nil {
		return p, nil
	}
	if err := json.Unmarshal(v, &p); err != nil {
		return p, fmt.Errorf("decode progress %s/%s: %w", docID, stage, err)
	}
	return p, nil
}

// PutProgress writes one stage's progress.
func (tx *Tx) PutProgress(docID, stage string, p StageProgress) error {
	v, err := json.Marshal(p)
	if err != nil {
		return err
	}
	if err := tx.bucket(bucketProgress).Put(progressKey(docID, stage), v); err != nil {
		return err
	}
	return tx.shareKey(SharedProgress, docID, stage)
}

// UpdateProgress reads one stage's progress, applies fn and writes it back.
func (tx *Tx) UpdateProgress(docID, stage string, fn func(p *StageProgress)) (StageProgress, error) {
	p, err := tx.Progress(docID, stage)
	if err != nil {
		return p, err
	}
	fn(&p)
	return p, tx.PutProgress(docID, stage, p)
}

// DeleteProgress forgets one stage's progress (it reads as pending again).
func (tx *Tx) DeleteProgress(docID, stage string) error {
	if err := tx.bucket(bucketProgress).Delete(progressKey(docID, stage)); err != nil {
		return err
	}
	return tx.shareKey(SharedProgress, docID, stage)
}
