// Package cluster runs sie past one machine on NATS JetStream: workers pull
// work items from per-pool work-queue streams into a local *sie.Engine, and a
// Client with the Engine's method set (sie.Service) publishes requests and
// collects the replies, so code written against an Engine runs against a
// cluster by changing its constructor.
//
// The wire follows SIE's cluster layout so that its concepts carry over:
//
//   - work subjects sie.work.{pool}.{profile}.{bundle}.{model}, each token
//     normalised by NormalizeToken;
//   - one WorkQueue stream per pool (SIE_WORK_{pool}) with a size limit that
//     refuses new work when full (ErrBackpressure) instead of queueing
//     without bound;
//   - one durable pull consumer per lane ({profile}.{bundle} inside a pool)
//     shared by every worker of the lane: any worker may take any item, and
//     the Engine's batcher batches what a worker holds;
//   - replies on NATS Core, one inbox per Client;
//   - items past the delivery limit moved to the SIE_DLQ stream on
//     sie.dlq.{pool}.{model} and answered with ErrDeadLetter;
//   - a lane no worker serves answers ErrProvisioning at once.
//
// The package lives in its own module so that the core library never
// requires NATS.
package cluster
