// Attribute names and values of jobwatch's spans: the OpenTelemetry messaging
// semantic conventions (messaging.*, error.type), plus a few bullmq.* ones for
// what the conventions have no name for. Kept as literals so that a newer
// @opentelemetry/semantic-conventions cannot rename them under our users.

export const MESSAGING_SYSTEM = 'messaging.system';
export const MESSAGING_OPERATION_TYPE = 'messaging.operation.type';
export const MESSAGING_OPERATION_NAME = 'messaging.operation.name';
export const MESSAGING_DESTINATION_NAME = 'messaging.destination.name';
export const MESSAGING_MESSAGE_ID = 'messaging.message.id';
export const MESSAGING_BATCH_MESSAGE_COUNT = 'messaging.batch.message_count';
export const MESSAGING_CLIENT_ID = 'messaging.client.id';
export const MESSAGING_CONSUMER_GROUP_NAME = 'messaging.consumer.group.name';
export const ERROR_TYPE = 'error.type';

export const BULLMQ_JOB_NAME = 'bullmq.job.name';
/** 1 for the first attempt, 2 for the first retry, … (attemptsMade + 1). */
export const BULLMQ_JOB_ATTEMPT = 'bullmq.job.attempt';
/** How often the job was started, stalled starts included (BullMQ's attemptsStarted). */
export const BULLMQ_JOB_ATTEMPTS_STARTED = 'bullmq.job.attempts_started';
export const BULLMQ_JOB_DELAY = 'bullmq.job.delay';
export const BULLMQ_JOB_PARENT_ID = 'bullmq.job.parent_id';
export const BULLMQ_JOB_SCHEDULER_ID = 'bullmq.job.scheduler_id';
/** On a failed attempt: true if BullMQ will try the job again, false if the failure is final. */
export const BULLMQ_JOB_WILL_RETRY = 'bullmq.job.will_retry';
/** completed | retry | failed | deferred (the processor moved the job, e.g. DelayedError). */
export const BULLMQ_JOB_OUTCOME = 'bullmq.job.outcome';
export const BULLMQ_WORKER_NAME = 'bullmq.worker.name';
/** The job's data as JSON, truncated; only with captureJobData (off by default). */
export const BULLMQ_JOB_DATA = 'bullmq.job.data';
/** A job.log() line, an event on the attempt's span; only with captureJobLogs (off by default). */
export const BULLMQ_JOB_LOG_EVENT = 'bullmq.job.log';
export const BULLMQ_JOB_LOG_MESSAGE = 'bullmq.job.log.message';
/** On a process span: job.log() lines past the per-attempt bound, not recorded. */
export const BULLMQ_JOB_LOG_DROPPED = 'bullmq.job.log.dropped';

export const SYSTEM_BULLMQ = 'bullmq';
export const OP_SEND = 'send';
export const OP_CREATE = 'create';
export const OP_PROCESS = 'process';
