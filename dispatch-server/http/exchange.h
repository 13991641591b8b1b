// The way back from a request handler to its HTTP connection. Handlers may answer later from
// any thread (the gRPC gateway answers from gRPC's callback threads); the connection posts the
// answer onto its own strand, so no Beast I/O thread ever waits for a gRPC call.
//
// A request is answered exactly once: either Reply(), or OpenEventStream() followed by any
// number of PushEvent() and finally EndEventStream(), or OpenDownload() followed by any number of
// WriteChunk() and finally EndDownload().
//
//   exchange->Reply(JsonResponse(200, "{}"));
//   // or, for Server-Sent Events:
//   exchange->OpenEventStream([call] { call->Cancel(); });  // runs when the browser goes away
//   if (!exchange->PushEvent("data: {...}\n\n")) ...        // false: connection gone / dropped
//   exchange->EndEventStream();
//   // or, for a document of any length (chunked transfer encoding, one chunk in flight):
//   exchange->OpenDownload(head, [call] { call->Cancel(); });
//   exchange->WriteChunk(part, [](bool written) { /* only now produce the next part */ });
//   exchange->EndDownload(/*complete=*/true);
//
// Thread contract: every method may be called from any thread.
#ifndef CIT_DISPATCH_SERVER_HTTP_EXCHANGE_H_
#define CIT_DISPATCH_SERVER_HTTP_EXCHANGE_H_

#include <functional>
#include <string>

#include "dispatch-server/http/http_message.h"

namespace cit::dispatch {

class Exchange {
 public:
  virtual ~Exchange() = default;

  virtual void Reply(HttpResponse response) = 0;

  // Sends "200 text/event-stream" headers; `on_close` runs once (on an arbitrary thread) when
  // the stream ends for any reason other than EndEventStream(): the client went away, it read
  // too slowly, or the server is stopping.
  virtual void OpenEventStream(std::function<void()> on_close) = 0;
  // Queues one complete SSE event (its lines and the blank line). False when the stream is
  // closed, including because this event overflowed the queue (the connection is dropped).
  virtual bool PushEvent(std::string event) = 0;
  // Ends the stream after the queued events are written (the connection is then closed).
  virtual void EndEventStream() = 0;

  // Sends `head` (status and headers; its body is ignored) with Transfer-Encoding: chunked.
  // `on_close` runs once (on an arbitrary thread) if the connection goes away before
  // EndDownload(). The producer holds one part at a time: it writes the next chunk only once
  // `written` has run for the previous one, so memory does not follow the document's length.
  virtual void OpenDownload(HttpResponse head, std::function<void()> on_close) = 0;
  // Sends `data` as one chunk (empty data is skipped: a zero-size chunk would end the body).
  // `written` runs exactly once, on an arbitrary thread: true when the chunk was written, false
  // when the connection is gone (the producer then stops).
  virtual void WriteChunk(std::string data, std::function<void(bool written)> written) = 0;
  // complete: the last chunk, and the connection goes on (keep-alive) or closes. Not complete
  // (the producer failed half-way): the connection is closed without the last chunk, so the
  // client sees a truncated transfer rather than a short document that looks whole.
  virtual void EndDownload(bool complete) = 0;
};

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_HTTP_EXCHANGE_H_
