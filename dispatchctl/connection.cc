#include "dispatchctl/connection.h"

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "dispatchctl/connection_check.h"

namespace cit::ctl {

absl::StatusOr<Connection> Connection::Open(const ConnectionOptions& options) {
  Connection c;
  c.server_ = options.server;
  c.timeout_ = options.timeout;
  if (absl::Status s = CheckServerAddress(options.server); !s.ok()) return s;
  c.token_ = std::string(absl::StripAsciiWhitespace(options.token));
  if (c.token_.empty() && !options.token_file.empty()) {
    absl::StatusOr<std::string> token = ReadTokenFile(options.token_file);
    if (!token.ok()) return token.status();
    c.token_ = *std::move(token);
  }
  // Over TLS every call needs a token; say so before the server answers UNAUTHENTICATED.
  if (c.token_.empty() && !options.insecure) return NoTokenError();
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 20000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10000);
  // `watch` reconnects after a server restart: retry the connection every <= 2 s, not gRPC's
  // default of up to 120 s.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 250);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 250);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
  // A plan check of a long track answers with up to 5,000 alert events.
  args.SetMaxReceiveMessageSize(16 << 20);
  std::shared_ptr<grpc::ChannelCredentials> creds;
  if (options.insecure) {
    creds = grpc::InsecureChannelCredentials();
  } else {
    grpc::SslCredentialsOptions ssl;
    if (!options.ca_file.empty()) {
      absl::StatusOr<std::string> ca = ReadCaFile(options.ca_file);
      if (!ca.ok()) return ca.status();
      ssl.pem_root_certs = *ca;
    }
    creds = grpc::SslCredentials(ssl);
    if (!options.server_name.empty()) {
      args.SetSslTargetNameOverride(options.server_name);
    }
  }
  c.channel_ = grpc::CreateCustomChannel(options.server, creds, args);
  c.dispatch_ = cit::v1::Dispatch::NewStub(c.channel_);
  c.alerts_ = cit::v1::Alerts::NewStub(c.channel_);
  c.audit_ = cit::v1::Audit::NewStub(c.channel_);
  c.plans_ = cit::v1::Plans::NewStub(c.channel_);
  return c;
}

void Connection::Prepare(grpc::ClientContext& context, bool streaming) const {
  if (!token_.empty()) context.AddMetadata("authorization", "Bearer " + token_);
  if (!streaming) context.set_deadline(std::chrono::system_clock::now() + timeout_);
}

grpc::Status Connection::ActOnAlert(bool resolve, uint64_t id, const std::string& comment,
                                    cit::v1::Alert* alert) const {
  grpc::ClientContext ctx;
  Prepare(ctx);
  if (resolve) {
    cit::v1::ResolveAlertRequest req;
    req.set_alert_id(id);
    req.set_comment(comment);
    return alerts().ResolveAlert(&ctx, req, alert);
  }
  cit::v1::AckAlertRequest req;
  req.set_alert_id(id);
  req.set_comment(comment);
  return alerts().AckAlert(&ctx, req, alert);
}

}  // namespace cit::ctl
