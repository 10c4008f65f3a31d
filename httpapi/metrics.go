package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/idp/idp/pipeline"
	"github.com/idp/idp/stage"
)

// metrics serves Prometheus metrics from a registry of our own (no global state): queue
// depth by priority, pages by stage and outcome, stage durations, cache hits and misses,
// documents by status and failures, plus Go and process metrics.
func (s *server) metrics() http.Handler {
	reg := prometheus.NewRegistry()
	var r prometheus.Registerer = reg
	if s.NodeID != "" {
		// Several nodes: one scrape per node, each series labelled with its node.
		r = prometheus.WrapRegistererWith(prometheus.Labels{"node": s.NodeID}, reg)
	}
	r.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		&collector{s: s},
	)
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: nil})
}

type collector struct{ s *server }

var (
	mQueue      = prometheus.NewDesc("idp_queue_depth", "Documents waiting in the queue, by priority.", []string{"priority"}, nil)
	mDelayed    = prometheus.NewDesc("idp_queue_delayed", "Queued documents waiting out a retry delay.", nil, nil)
	mWorkers    = prometheus.NewDesc("idp_workers", "Document workers.", nil, nil)
	mBusy       = prometheus.NewDesc("idp_workers_busy", "Document workers holding a document.", nil, nil)
	mDocs       = prometheus.NewDesc("idp_documents", "Documents in the database, by status.", []string{"status"}, nil)
	mProcessed  = prometheus.NewDesc("idp_documents_processed_total", "Tries that ended, by result, since start.", []string{"result"}, nil)
	mPages      = prometheus.NewDesc("idp_pages_total", "Pages by stage and outcome (done, cached, failed) since start.", []string{"stage", "outcome"}, nil)
	mSources    = prometheus.NewDesc("idp_pages_read_total", "Pages read in stage 1, by source (text_layer, ocr, blank: rendered, found blank, not OCR'd), since start.", []string{"source"}, nil)
	mStage      = prometheus.NewDesc("idp_stage_duration_seconds", "Time a stage took for one document.", []string{"stage"}, nil)
	mCacheHit   = prometheus.NewDesc("idp_cache_hits_total", "Stage results served from the cache since start.", nil, nil)
	mCacheMiss  = prometheus.NewDesc("idp_cache_misses_total", "Stage results not in the cache (or stale) since start.", nil, nil)
	mUptime     = prometheus.NewDesc("idp_uptime_seconds", "Seconds since the workers started.", nil, nil)
	mExtraGauge = prometheus.NewDesc("idp_extra", "Other numeric state of the processor (S3 outbox, LLM breaker).", []string{"name"}, nil)
)

// Retention (pipeline/retention.go).
var (
	mRetDeleted = prometheus.NewDesc("idp_retention_deleted_total", "Documents deleted by retention sweeps since start.", nil, nil)
	mRetSweeps  = prometheus.NewDesc("idp_retention_sweeps_total", "Retention sweeps run since start (dry runs not counted).", nil, nil)
	mRetLast    = prometheus.NewDesc("idp_retention_last_sweep_timestamp_seconds", "Unix time of the last retention sweep; 0 before the first.", nil, nil)
)

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{mQueue, mDelayed, mWorkers, mBusy, mDocs, mProcessed, mPages, mSources, mStage, mCacheHit, mCacheMiss, mUptime, mExtraGauge} {
		ch <- d
	}
	for _, d := range []*prometheus.Desc{mRetDeleted, mRetSweeps, mRetLast} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := c.s.Processor.ProcessorStatus(ctx)
	if err != nil {
		c.s.log.Error("Metrics: cannot read the processor status", "err", err)
		return
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	for _, p := range pipeline.PriorityNames {
		gauge(mQueue, float64(st.Queue.ByPriority[p]), p)
	}
	gauge(mDelayed, float64(st.Queue.Delayed))
	gauge(mWorkers, float64(st.Workers))
	gauge(mBusy, float64(st.BusyWorkers))
	for _, status := range []string{"queued", "processing", "completed", "failed"} {
		gauge(mDocs, float64(st.Documents[status]), status)
	}
	t := st.Totals
	counter(mProcessed, float64(t.DocsCompleted), "completed")
	counter(mProcessed, float64(t.DocsFailed), "failed")
	for _, stage := range stage.All {
		for _, outcome := range []string{"done", "cached", "failed"} {
			counter(mPages, float64(t.Pages[stage][outcome]), stage, outcome)
		}
		buckets := map[float64]uint64{}
		var cum uint64
		h := t.StageHist[stage]
		for i, bound := range pipeline.DurationBuckets {
			if i < len(h) {
				cum += h[i]
			}
			buckets[bound] = cum
		}
		ch <- prometheus.MustNewConstHistogram(mStage, uint64(t.StageRuns[stage]), t.StageSeconds[stage], buckets, stage)
	}
	counter(mSources, float64(t.TextLayerPages), stage.SourceTextLayer)
	counter(mSources, float64(t.OCRPages), stage.SourceOCR)
	counter(mSources, float64(t.BlankPages), "blank")
	counter(mCacheHit, float64(t.CacheHits))
	counter(mCacheMiss, float64(t.CacheMisses))
	gauge(mUptime, st.UptimeSeconds)
	counter(mRetDeleted, float64(st.Retention.Deleted))
	counter(mRetSweeps, float64(st.Retention.Sweeps))
	lastSweep := 0.0
	if st.Retention.LastSweep != nil {
		lastSweep = float64(st.Retention.LastSweep.UnixNano()) / 1e9
	}
	gauge(mRetLast, lastSweep)
	if c.s.Extra != nil {
		for name, v := range c.s.Extra() {
			if f, ok := number(v); ok {
				gauge(mExtraGauge, f, name)
			}
		}
	}
}

func number(v any) (float64, bool) {
	switch x := v.(type) {
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case float64:
		return x, true
	case bool:
		if x {
			return 1, true
		}
		return 0, true
	}
	return 0, false
}
