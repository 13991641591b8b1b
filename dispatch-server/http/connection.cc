#include "dispatch-server/http/connection.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <array>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <type_traits>

namespace cit::dispatch::http_internal {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

// How long a closing connection may take to say goodbye (TLS close_notify, draining the rest of
// a refused request) before the socket is simply closed.
constexpr std::chrono::seconds kGoodbyeTimeout{2};
// Lingering close after a refusal: at most this much of the unread request is read and
// discarded (within kGoodbyeTimeout) before the socket is closed anyway.
constexpr std::size_t kLingerMaxBytes = 4u << 20;

template <class Stream>
class Connection final : public Exchange,
                         public TrackedConnection,
                         public std::enable_shared_from_this<Connection<Stream>> {
  static constexpr bool kTls = !std::is_same_v<Stream, beast::tcp_stream>;

 public:
  template <class... Args>
  explicit Connection(ConnectionShared& shared, Args&&... args)
      : shared_(shared), stream_(std::forward<Args>(args)...), timer_(stream_.get_executor()) {}

  ~Connection() override {
    shared_.tracker->Remove(id_);
    shared_.metrics->connections->Add(-1);
    if (stream_started_) shared_.metrics->streams->Add(-1);
  }

  void Start() {
    beast::error_code ec;
    tcp::endpoint peer = Lowest().socket().remote_endpoint(ec);
    client_address_ = ec ? "unknown" : peer.address().to_string();
    id_ = shared_.tracker->Add(this->weak_from_this());
    shared_.metrics->connections->Add(1);
    if constexpr (kTls) {
      Expire(shared_.options->header_timeout);
      stream_.async_handshake(net::ssl::stream_base::server,
                              [self = this->shared_from_this()](beast::error_code e) {
                                if (e) return self->FailHandshake(e);
                                self->ReadHeader();
                              });
    } else {
      ReadHeader();
    }
  }

  // --- TrackedConnection ---------------------------------------------------------------------
  void Evict() override {
    net::post(stream_.get_executor(), [self = this->shared_from_this()] { self->CloseNow(); });
  }

  // --- Exchange ------------------------------------------------------------------------------
  void Reply(HttpResponse response) override {
    net::post(stream_.get_executor(),
              [self = this->shared_from_this(), r = std::move(response)]() mutable {
                self->WriteResponse(std::move(r));
              });
  }

  void OpenEventStream(std::function<void()> on_close) override {
    HttpResponse head;
    head.headers.emplace_back("Content-Type", "text/event-stream");
    head.headers.emplace_back("Cache-Control", "no-store");
    head.headers.emplace_back("X-Accel-Buffering", "no");
    head.headers.emplace_back("Connection", "close");
    shared_.headers->Apply("/", &head);  // not /api's Cache-Control: set above
    std::string text = "HTTP/1.1 200 OK\r\nServer: citwatch\r\n";
    for (const auto& [k, v] : head.headers) text += fmt::format("{}: {}\r\n", k, v);
    text += "\r\n";
    {
      std::lock_guard<std::mutex> lock(mu_);
      queued_bytes_ += text.size();
      queue_.push_front(std::move(text));
    }
    net::post(stream_.get_executor(),
              [self = this->shared_from_this(), f = std::move(on_close)]() mutable {
                self->BeginStream(std::move(f));
              });
  }

  bool PushEvent(std::string event) override {
    bool overflow = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stream_closed_) return false;
      if (queued_bytes_ + event.size() > shared_.options->sse_max_queued_bytes) {
        stream_closed_ = true;
        overflow = true;
      } else {
        queued_bytes_ += event.size();
        queue_.push_back(std::move(event));
      }
    }
    if (overflow) {
      shared_.metrics->sse_dropped->Increment();
      spdlog::warn("event=http_sse_dropped client={} reason=slow_reader max_queued_bytes={}",
                   client_address_, shared_.options->sse_max_queued_bytes);
      net::post(stream_.get_executor(), [self = this->shared_from_this()] { self->CloseNow(); });
      return false;
    }
    net::post(stream_.get_executor(), [self = this->shared_from_this()] { self->Pump(); });
    return true;
  }

  void EndEventStream() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stream_ending_ = true;
    }
    net::post(stream_.get_executor(), [self = this->shared_from_this()] { self->Pump(); });
  }

  void OpenDownload(HttpResponse head, std::function<void()> on_close) override {
    net::post(stream_.get_executor(), [self = this->shared_from_this(), h = std::move(head),
                                       f = std::move(on_close)]() mutable {
      self->BeginDownload(std::move(h), std::move(f));
    });
  }

  void WriteChunk(std::string data, std::function<void(bool)> written) override {
    net::post(stream_.get_executor(),
              [self = this->shared_from_this(), d = std::move(data),
               w = std::move(written)]() mutable { self->QueueChunk(std::move(d), std::move(w)); });
  }

  void EndDownload(bool complete) override {
    net::post(stream_.get_executor(), [self = this->shared_from_this(), complete] {
      self->download_ending_ = true;
      self->download_complete_ = complete;
      self->PumpDownload();
    });
  }

 private:
  beast::tcp_stream& Lowest() { return beast::get_lowest_layer(stream_); }

  // Sets the deadline of the next operations and remembers it (a TLS stream may report an
  // expired deadline as another error).
  void Expire(std::chrono::seconds timeout) {
    deadline_ = std::chrono::steady_clock::now() + timeout;
    Lowest().expires_after(timeout);
  }

  void Fail(beast::error_code ec) {
    if (ec == beast::error::timeout || std::chrono::steady_clock::now() >= deadline_) {
      shared_.metrics->timeouts->Increment();
    }
    CloseNow();
  }

  // A handshake that fails for a reason other than our own deadline or an eviction (plain
  // HTTP on the TLS port, a scanner, an untrusted client) is counted: it is bad input.
  void FailHandshake(beast::error_code ec) {
    if (!closed_ && ec != beast::error::timeout && std::chrono::steady_clock::now() < deadline_) {
      shared_.metrics->tls_handshake_failures->Increment();
    }
    Fail(ec);
  }

  void ReadHeader() {
    if (closed_) return;
    shared_.tracker->SetIdle(id_, true);
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(shared_.options->max_header_bytes));
    // Beast checks Content-Length against body_limit while parsing the header: allow the
    // largest limit here, decide per path in OnHeader.
    parser_->body_limit(
        std::max(shared_.options->max_body_bytes, shared_.options->max_plan_body_bytes));
    Expire(shared_.options->header_timeout);
    http::async_read_header(stream_, buffer_, *parser_,
                            [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                              self->OnHeader(ec);
                            });
  }

  void OnHeader(beast::error_code ec) {
    shared_.tracker->SetIdle(id_, false);
    if (ec == http::error::header_limit) {
      shared_.metrics->too_large->Increment();
      return RefuseAndClose(JsonError(
          431, "INVALID_ARGUMENT",
          fmt::format("request header larger than {} bytes", shared_.options->max_header_bytes)));
    }
    if (ec == http::error::body_limit) return RefuseTooLarge(shared_.options->max_body_bytes);
    if (ec) return Fail(ec);
    const auto& req = parser_->get();
    std::string_view target(req.target().data(), req.target().size());
    request_path_ = std::string(target.substr(0, target.find('?')));
    const std::size_t limit = shared_.router->BodyLimitFor(request_path_);
    if (parser_->content_length() && *parser_->content_length() > limit) {
      return RefuseTooLarge(limit);
    }
    parser_->body_limit(limit);
    if (parser_->is_done()) return Dispatch();
    Expire(shared_.options->body_timeout);
    http::async_read(
        stream_, buffer_, *parser_,
        [self = this->shared_from_this()](beast::error_code e, std::size_t) {
          if (e == http::error::body_limit) {
            return self->RefuseTooLarge(self->shared_.router->BodyLimitFor(self->request_path_));
          }
          if (e) return self->Fail(e);
          self->Dispatch();
        });
  }

  void RefuseTooLarge(std::size_t limit) {
    shared_.metrics->too_large->Increment();
    RefuseAndClose(JsonError(413, "INVALID_ARGUMENT",
                             fmt::format("request body larger than {} bytes", limit)));
  }

  // Answers and closes with the rest of the request unread: lingering close (Goodbye).
  void RefuseAndClose(HttpResponse response) {
    keep_alive_ = false;
    linger_ = true;
    WriteResponse(std::move(response));
  }

  void Dispatch() {
    auto& req = parser_->get();
    HttpRequest r;
    r.method = std::string(req.method_string());
    r.target = std::string(req.target());
    for (const auto& field : req) {
      r.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    }
    r.body = std::move(req.body());
    r.client_address = client_address_;
    keep_alive_ = req.keep_alive();
    parser_.reset();
    // No deadline while the handler works (the gateway's calls have their own); nothing is read
    // until the answer has been written.
    Lowest().expires_never();
    deadline_ = std::chrono::steady_clock::time_point::max();
    shared_.router->Handle(std::move(r), this->shared_from_this());
  }

  void WriteResponse(HttpResponse r) {
    if (closed_) return;
    shared_.metrics->Response(r.status);
    shared_.headers->Apply(request_path_, &r);
    response_ = std::make_unique<http::response<http::string_body>>();
    response_->version(11);
    response_->result(static_cast<unsigned>(r.status));
    response_->set(http::field::server, "citwatch");
    for (auto& [k, v] : r.headers) response_->insert(k, v);
    response_->body() = std::move(r.body);
    response_->keep_alive(keep_alive_);
    response_->prepare_payload();
    Expire(shared_.options->write_timeout);
    http::async_write(stream_, *response_,
                      [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                        self->response_.reset();
                        if (ec) return self->Fail(ec);
                        if (!self->keep_alive_) return self->Goodbye();
                        self->ReadHeader();
                      });
  }

  // --- event streams (all on the strand) -----------------------------------------------------
  void BeginStream(std::function<void()> on_close) {
    stream_started_ = true;
    shared_.metrics->streams->Add(1);
    shared_.metrics->Response(200);
    if (closed_) {
      if (on_close) on_close();
      return;
    }
    on_close_ = std::move(on_close);
    WatchForClose();
    KeepAlive();
    Pump();
  }

  // The browser sends nothing on an event stream: a completed read means it went away.
  void WatchForClose() {
    stream_.async_read_some(net::buffer(discard_),
                            [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                              if (ec) return self->Fail(ec);
                              self->WatchForClose();
                            });
  }

  void KeepAlive() {
    timer_.expires_after(shared_.options->sse_keepalive);
    timer_.async_wait([self = this->shared_from_this()](beast::error_code ec) {
      if (ec || self->closed_) return;
      self->PushEvent(": keep-alive\n\n");
      self->KeepAlive();
    });
  }

  void Pump() {
    if (closed_ || writing_ || !stream_started_) return;
    bool ending = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (queue_.empty()) {
        ending = stream_ending_;
      } else {
        current_ = std::move(queue_.front());
        queue_.pop_front();
      }
    }
    if (current_.empty()) {
      if (ending) return Goodbye();
      Lowest().expires_never();  // idle stream: only the keep-alive timer runs
      deadline_ = std::chrono::steady_clock::time_point::max();
      return;
    }
    writing_ = true;
    Expire(shared_.options->write_timeout);
    net::async_write(stream_, net::buffer(current_),
                     [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                       self->writing_ = false;
                       {
                         std::lock_guard<std::mutex> lock(self->mu_);
                         self->queued_bytes_ -= self->current_.size();
                       }
                       self->current_.clear();
                       if (ec) return self->Fail(ec);
                       self->Pump();
                     });
  }

  // --- downloads (all on the strand) ---------------------------------------------------------
  // Beast writes the header with Transfer-Encoding: chunked, then each part as one chunk, then
  // the last chunk. The producer sends a part only after the previous one was written, so the
  // queue holds at most one part (it is not bounded otherwise: the Exchange contract is).
  void BeginDownload(HttpResponse head, std::function<void()> on_close) {
    if (closed_) {
      if (on_close) on_close();
      return;
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      on_close_ = std::move(on_close);
    }
    shared_.metrics->Response(head.status);
    shared_.headers->Apply(request_path_, &head);
    download_head_ = std::make_unique<http::response<http::empty_body>>();
    download_head_->version(11);
    download_head_->result(static_cast<unsigned>(head.status));
    download_head_->set(http::field::server, "citwatch");
    for (auto& [k, v] : head.headers) download_head_->insert(k, v);
    download_head_->keep_alive(keep_alive_);
    download_head_->chunked(true);
    download_serializer_ =
        std::make_unique<http::response_serializer<http::empty_body>>(*download_head_);
    downloading_ = true;
    writing_ = true;
    Expire(shared_.options->write_timeout);
    http::async_write_header(stream_, *download_serializer_,
                             [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                               self->writing_ = false;
                               if (ec) return self->Fail(ec);
                               self->PumpDownload();
                             });
  }

  void QueueChunk(std::string data, std::function<void(bool)> written) {
    if (closed_ || !downloading_) return written(false);
    if (data.empty()) return written(true);
    chunks_.push_back(Chunk{std::move(data), std::move(written)});
    PumpDownload();
  }

  void PumpDownload() {
    if (closed_ || writing_ || !downloading_) return;
    if (!chunks_.empty()) {
      chunk_ = std::move(chunks_.front());
      chunks_.pop_front();
      writing_ = true;
      Expire(shared_.options->write_timeout);
      net::async_write(stream_, http::make_chunk(net::buffer(chunk_.data)),
                       [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                         self->writing_ = false;
                         Chunk done = std::move(self->chunk_);
                         self->chunk_ = Chunk{};
                         done.written(!ec);
                         if (ec) return self->Fail(ec);
                         self->PumpDownload();
                       });
      return;
    }
    if (!download_ending_) {
      // Waiting for the producer's next part: no deadline of ours (the gRPC call has its own).
      Lowest().expires_never();
      deadline_ = std::chrono::steady_clock::time_point::max();
      return;
    }
    if (!download_complete_) {
      spdlog::warn("event=http_download_truncated client={} path={}", client_address_,
                   request_path_);
      return CloseNow();
    }
    writing_ = true;
    Expire(shared_.options->write_timeout);
    net::async_write(stream_, http::make_chunk_last(),
                     [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                       self->writing_ = false;
                       self->EndOfDownload();
                       if (ec) return self->Fail(ec);
                       if (!self->keep_alive_) return self->Goodbye();
                       self->ReadHeader();
                     });
  }

  // The download is over: the connection may serve the next request.
  void EndOfDownload() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      on_close_ = nullptr;
    }
    downloading_ = false;
    download_ending_ = false;
    download_complete_ = false;
    download_serializer_.reset();
    download_head_.reset();
  }

  // --- closing ------------------------------------------------------------------------------
  // After the last response: TLS close_notify, or (plain) half-close and drain what the client
  // still sends, so it reads our answer instead of a connection reset.
  //
  // After a refusal (413/431: request bytes still unread, the client possibly still sending) it
  // is a lingering close on TLS too: closing a socket with unread data makes the kernel send a
  // reset, which can destroy the answer before the client reads it, and a TLS close_notify
  // exchange would fail on the client's application data. So: half-close the TCP connection
  // (the answer's TLS records are already written), read and discard raw bytes until the client
  // closes, kGoodbyeTimeout passes or kLingerMaxBytes were discarded, then close.
  void Goodbye() {
    if (closed_) return;
    Lowest().expires_after(kGoodbyeTimeout);
    if (linger_) {
      beast::error_code ec;
      Lowest().socket().shutdown(tcp::socket::shutdown_send, ec);
      return Drain();
    }
    if constexpr (kTls) {
      stream_.async_shutdown(
          [self = this->shared_from_this()](beast::error_code) { self->CloseNow(); });
    } else {
      beast::error_code ec;
      Lowest().socket().shutdown(tcp::socket::shutdown_send, ec);
      Drain();
    }
  }

  void Drain() {
    Lowest().async_read_some(net::buffer(discard_), [self = this->shared_from_this()](
                                                        beast::error_code ec, std::size_t n) {
      self->discarded_ += n;
      if (ec || self->discarded_ >= kLingerMaxBytes) return self->CloseNow();
      self->Drain();
    });
  }

  void CloseNow() {
    if (closed_) return;
    closed_ = true;
    beast::error_code ec;
    Lowest().socket().shutdown(tcp::socket::shutdown_both, ec);
    Lowest().close();
    timer_.cancel();
    // Parts not written: their producer stops (a part being written is failed by its write).
    std::deque<Chunk> unwritten = std::move(chunks_);
    chunks_.clear();
    for (Chunk& c : unwritten) c.written(false);
    std::function<void()> on_close;
    {
      std::lock_guard<std::mutex> lock(mu_);
      stream_closed_ = true;
      on_close = std::move(on_close_);
    }
    if (on_close) on_close();
  }

  ConnectionShared& shared_;
  Stream stream_;
  net::steady_timer timer_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::unique_ptr<http::response<http::string_body>> response_;
  std::array<char, 16384> discard_{};
  std::size_t discarded_ = 0;  // bytes drained while closing (kLingerMaxBytes)
  bool linger_ = false;        // closing after a refusal: lingering close
  std::string client_address_;
  std::string request_path_;
  uint64_t id_ = 0;
  std::chrono::steady_clock::time_point deadline_ = std::chrono::steady_clock::time_point::max();
  bool keep_alive_ = true;
  bool closed_ = false;
  bool writing_ = false;
  bool stream_started_ = false;
  std::string current_;  // the event being written

  std::mutex mu_;  // guards the event queue: PushEvent comes from gRPC threads
  std::deque<std::string> queue_;
  std::size_t queued_bytes_ = 0;
  bool stream_closed_ = false;
  bool stream_ending_ = false;
  std::function<void()> on_close_;

  // Downloads (strand only).
  struct Chunk {
    std::string data;
    std::function<void(bool)> written;
  };
  std::unique_ptr<http::response<http::empty_body>> download_head_;
  std::unique_ptr<http::response_serializer<http::empty_body>> download_serializer_;
  std::deque<Chunk> chunks_;
  Chunk chunk_;  // the part being written
  bool downloading_ = false;
  bool download_ending_ = false;
  bool download_complete_ = false;
};

}  // namespace

void StartConnection(tcp::socket socket, net::ssl::context* tls, ConnectionShared& shared) {
  if (tls != nullptr) {
    std::make_shared<Connection<beast::ssl_stream<beast::tcp_stream>>>(shared, std::move(socket),
                                                                       *tls)
        ->Start();
  } else {
    std::make_shared<Connection<beast::tcp_stream>>(shared, std::move(socket))->Start();
  }
}

}  // namespace cit::dispatch::http_internal
