#include "dispatch-server/http/download_stream.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <utility>

#include "cit/v1/dispatch.pb.h"
#include "dispatch-server/http/status_mapping.h"

namespace cit::dispatch {
namespace {

namespace pb = google::protobuf;

// Reads the gRPC stream one message at a time: a read starts either in Start() or when the
// connection has written the previous part (outside the reactions, hence the one hold, removed
// when no read will follow).
class DownloadForwarder final : public grpc::ClientBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>,
                                public std::enable_shared_from_this<DownloadForwarder> {
 public:
  DownloadForwarder(GrpcGateway& gateway, const pb::MethodDescriptor* method,
                    std::unique_ptr<grpc::ClientContext> context, grpc::ByteBuffer request,
                    std::shared_ptr<Exchange> exchange)
      : gateway_(gateway),
        full_method_("/" + method->service()->full_name() + "/" + method->name()),
        context_(std::move(context)),
        request_(std::move(request)),
        exchange_(std::move(exchange)) {}

  void Start() {
    if (!gateway_.calls().Add(context_.get())) {
      exchange_->Reply(JsonError(503, "UNAVAILABLE", "the server is shutting down"));
      return;
    }
    self_ = shared_from_this();
    gateway_.stub().PrepareBidiStreamingCall(context_.get(), full_method_, grpc::StubOptions(),
                                             this);
    StartWriteLast(&request_, grpc::WriteOptions());
    StartRead(&response_);
    AddHold();
    StartCall();
  }

  void OnReadDone(bool ok) override {
    if (!ok) return RemoveHold();  // the end, or an error: OnDone follows with the status
    cit::v1::ExportRunResponse part;
    if (!ParseFromByteBuffer(response_, &part)) {
      unreadable_ = true;
      context_->TryCancel();
      return RemoveHold();
    }
    if (!opened_) {
      opened_ = true;
      HttpResponse head;
      head.headers.emplace_back("Content-Type", part.media_type().empty()
                                                    ? "application/octet-stream"
                                                    : part.media_type());
      head.headers.emplace_back(
          "Content-Disposition",
          fmt::format("attachment; filename=\"{}\"", SafeFileName(part.suggested_file_name())));
      std::weak_ptr<DownloadForwarder> weak = self_;
      exchange_->OpenDownload(std::move(head), [weak] {
        if (auto self = weak.lock()) self->context_->TryCancel();
      });
    }
    exchange_->WriteChunk(std::move(*part.mutable_content()),
                          [self = self_](bool written) { self->PartWritten(written); });
  }

  void OnDone(const grpc::Status& status) override {
    if (!opened_) {
      if (unreadable_) {
        exchange_->Reply(
            JsonError(500, "INTERNAL", "unreadable response from the operator service"));
      } else if (status.ok()) {
        exchange_->Reply(JsonError(500, "INTERNAL", "the export ended without a document"));
      } else {
        exchange_->Reply(ErrorFromGrpc(status));
      }
    } else {
      const bool complete = status.ok() && !unreadable_;
      if (!complete && status.error_code() != grpc::StatusCode::CANCELLED) {
        spdlog::warn("event=http_download_failed method={} code={} message=\"{}\"", full_method_,
                     GrpcCodeName(status.error_code()), status.error_message());
      }
      exchange_->EndDownload(complete);
    }
    exchange_.reset();
    grpc::ClientContext* context = context_.get();
    std::shared_ptr<DownloadForwarder> keep = std::move(self_);
    // Last: Stop() may return (and the HTTP server go away) right after.
    gateway_.calls().Remove(context);
  }

 private:
  // On the connection's strand, once per part.
  void PartWritten(bool written) {
    if (written) return StartRead(&response_);
    context_->TryCancel();  // the browser went away
    RemoveHold();
  }

  GrpcGateway& gateway_;
  const std::string full_method_;
  std::unique_ptr<grpc::ClientContext> context_;
  grpc::ByteBuffer request_;
  grpc::ByteBuffer response_;
  std::shared_ptr<Exchange> exchange_;
  std::shared_ptr<DownloadForwarder> self_;  // alive until OnDone
  // Reactions run one at a time here (a read is in flight only after the previous part was
  // handed on) and OnDone after all of them, so plain flags suffice.
  bool opened_ = false;
  bool unreadable_ = false;
};

}  // namespace

bool IsDownloadMethod(const pb::MethodDescriptor* method) {
  return method->server_streaming() &&
         method->output_type() == cit::v1::ExportRunResponse::descriptor();
}

std::string SafeFileName(std::string_view name) {
  std::string out;
  for (char c : name) {
    const bool safe = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '.' || c == '-' || c == '_';
    out.push_back(safe ? c : '_');
  }
  return out.empty() ? "export" : out;
}

void ForwardDownload(GrpcGateway& gateway, const pb::MethodDescriptor* method,
                     std::unique_ptr<pb::Message> request, const std::string& bearer_token,
                     std::shared_ptr<Exchange> exchange) {
  auto forwarder =
      std::make_shared<DownloadForwarder>(gateway, method, gateway.NewContext(bearer_token, true),
                                          SerializeToByteBuffer(*request), std::move(exchange));
  forwarder->Start();
}

}  // namespace cit::dispatch
