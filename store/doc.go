// Package store holds everything idp keeps: one bbolt file with the documents, the durable
// priority queue (behind the Queue interface), per-stage progress, the page cache and local
// checkpoints, the outbox of writes to the blob tier and the Uploader that drains it; and the
// Blob interface of the blob tier, with a local directory (DirBlob) and an in-memory fake
// (MemBlob). S3 is in store/s3, its test server in store/s3/s3test, and the conformance suite
// every Blob passes in store/blobtest.
//
// It imports nothing of idp but retry (the clock and the backoff).
//
// bbolt rules we keep: one writer at a time, short read transactions, bytes copied out before a
// transaction ends, no I/O other than bbolt inside a transaction, big-endian keys where a cursor
// must walk in order.
package store
