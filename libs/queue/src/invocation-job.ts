import { INVOCATION_FORMAT, type InvocationJob, type InvokeEvent } from '@tributary/contracts';

/** The BullMQ job of an `invoke` event: the payload stays inline or keeps its claim check. */
export const invocationJobFromEvent = (event: InvokeEvent): InvocationJob => ({
  v: INVOCATION_FORMAT,
  requestId: event.id,
  functionName: event.targetfunction,
  qualifier: event.qualifier,
  ...(event.invokedqualifier ? { invokedQualifier: event.invokedqualifier } : {}),
  functionRevision: event.functionrevision,
  ...(event.functioncreated ? { functionCreated: event.functioncreated } : {}),
  invocationType: event.invocationtype,
  logType: event.logtype,
  ...(event.dataref ? { payloadRef: event.dataref } : { payload: event.data === undefined ? '{}' : JSON.stringify(event.data) }),
  ...(event.replyto ? { replyTo: event.replyto } : {}),
  ...(event.deadline ? { deadline: event.deadline } : {}),
  ...(event.clientcontext ? { clientContext: event.clientcontext } : {}),
  ...(event.responsemode ? { responseMode: event.responsemode } : {}),
  ...(event.streamwindow ? { streamWindow: event.streamwindow } : {}),
  receivedAt: Date.parse(event.time) || Date.now(),
});
