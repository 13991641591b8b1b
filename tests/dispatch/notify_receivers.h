// Receivers started by the notification tests on loopback: an HTTP server (Boost.Beast) that
// records each request and answers with a settable status, and a minimal SMTP server
// (Boost.Asio, optional STARTTLS with the test certificates) that records each message.
//
//   HttpReceiver hook;                         // 127.0.0.1, a free port (or HttpReceiver(port))
//   hook.set_status(503);                      // the next answers
//   ASSERT_TRUE(hook.WaitRequests(1));         // waits on a condition variable, no sleeps
//   SmtpSink mail(&tls_context);               // nullptr: no STARTTLS offered
//
// Thread contract: each serves on its own thread; the accessors are thread-safe.
#ifndef CIT_TESTS_DISPATCH_NOTIFY_RECEIVERS_H_
#define CIT_TESTS_DISPATCH_NOTIFY_RECEIVERS_H_

#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace cit::test {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

// Accepts connections on 127.0.0.1 until destroyed; `serve` handles one connection.
class LoopbackServer {
 public:
  explicit LoopbackServer(int port)
      : acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"),
                                     static_cast<unsigned short>(port))) {
    port_ = acceptor_.local_endpoint().port();
  }
  virtual ~LoopbackServer() = default;
  int port() const { return port_; }

 protected:
  void Run() {
    thread_ = std::thread([this] {
      while (!stop_) {
        tcp::socket socket(io_);
        boost::system::error_code ec;
        acceptor_.accept(socket, ec);
        if (ec || stop_) break;
        Serve(socket);
      }
    });
  }
  // Call first in the derived destructor: wakes the blocked accept with a connection.
  void Shutdown() {
    stop_ = true;
    boost::system::error_code ec;
    tcp::socket poke(io_);
    poke.connect(
        tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port_)), ec);
    if (thread_.joinable()) thread_.join();
  }
  virtual void Serve(tcp::socket& socket) = 0;

  std::mutex mu_;
  std::condition_variable cv_;

 private:
  asio::io_context io_;
  tcp::acceptor acceptor_;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

class HttpReceiver final : public LoopbackServer {
 public:
  struct Request {
    std::string body;
    std::string signature;
    std::string idempotency_key;
    int answered = 0;  // the status this request was answered with
  };
  explicit HttpReceiver(int port = 0) : LoopbackServer(port) { Run(); }
  ~HttpReceiver() override { Shutdown(); }
  void set_status(int status) { status_ = status; }
  bool WaitRequests(size_t n, std::chrono::seconds timeout = std::chrono::seconds(20)) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return requests_.size() >= n; });
  }
  std::vector<Request> requests() {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }

 private:
  void Serve(tcp::socket& socket) override {
    boost::beast::flat_buffer buffer;
    http::request<http::string_body> req;
    boost::system::error_code ec;
    http::read(socket, buffer, req, ec);
    if (ec) return;
    http::response<http::string_body> res(static_cast<http::status>(status_.load()), 11);
    res.body() = "{}";
    res.prepare_payload();
    {
      std::lock_guard<std::mutex> lock(mu_);
      requests_.push_back({req.body(), std::string(req["X-Citwatch-Signature"]),
                           std::string(req["Idempotency-Key"]), status_.load()});
    }
    cv_.notify_all();
    http::write(socket, res, ec);
  }

  std::atomic<int> status_{200};
  std::vector<Request> requests_;
};

class SmtpSink final : public LoopbackServer {
 public:
  struct Message {
    std::string from;
    std::vector<std::string> to;
    std::string data;
    bool tls = false;
  };
  // `tls`: offer STARTTLS with this server context (nullptr: plain only).
  explicit SmtpSink(asio::ssl::context* tls) : LoopbackServer(0), tls_(tls) { Run(); }
  ~SmtpSink() override { Shutdown(); }
  bool WaitMessages(size_t n, std::chrono::seconds timeout = std::chrono::seconds(20)) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return messages_.size() >= n; });
  }
  std::vector<Message> messages() {
    std::lock_guard<std::mutex> lock(mu_);
    return messages_;
  }
  // Sessions that ended without a message (e.g. the client refused to go on in clear).
  int sessions() const { return sessions_; }

 private:
  void Serve(tcp::socket& socket) override {
    ++sessions_;
    boost::system::error_code ec;
    asio::write(socket, asio::buffer(std::string("220 sink ESMTP\r\n")), ec);
    if (ec) return;
    if (Talk(socket, false) && tls_ != nullptr) {
      asio::ssl::stream<tcp::socket&> secure(socket, *tls_);
      secure.handshake(asio::ssl::stream_base::server, ec);
      if (ec) return;
      Talk(secure, true);
    }
  }

  // Runs the SMTP dialogue; returns true when the client asked for STARTTLS (and was told to
  // go ahead), false when the session ended.
  template <typename Stream>
  bool Talk(Stream& s, bool tls) {
    asio::streambuf in;
    Message msg;
    msg.tls = tls;
    boost::system::error_code ec;
    auto reply = [&](const std::string& text) {
      asio::write(s, asio::buffer(text), ec);
      return !ec;
    };
    while (true) {
      asio::read_until(s, in, "\r\n", ec);
      if (ec) return false;
      std::istream stream(&in);
      std::string line;
      std::getline(stream, line);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      const std::string verb = line.substr(0, 4);
      if (verb == "EHLO" || verb == "ehlo") {
        std::string caps = "250-sink\r\n";
        if (tls_ != nullptr && !tls) caps += "250-STARTTLS\r\n";
        if (!reply(caps + "250 SIZE 10000000\r\n")) return false;
      } else if (verb == "STAR") {
        if (tls_ == nullptr || tls) {
          if (!reply("502 not here\r\n")) return false;
          continue;
        }
        return reply("220 go ahead\r\n");
      } else if (verb == "MAIL") {
        msg.from = line;
        if (!reply("250 OK\r\n")) return false;
      } else if (verb == "RCPT") {
        msg.to.push_back(line);
        if (!reply("250 OK\r\n")) return false;
      } else if (verb == "DATA") {
        if (!reply("354 end with .\r\n")) return false;
        const size_t n = asio::read_until(s, in, "\r\n.\r\n", ec);
        if (ec) return false;
        msg.data.assign(asio::buffers_begin(in.data()), asio::buffers_begin(in.data()) + n);
        in.consume(n);
        {
          std::lock_guard<std::mutex> lock(mu_);
          messages_.push_back(msg);
        }
        cv_.notify_all();
        if (!reply("250 OK queued\r\n")) return false;
      } else if (verb == "QUIT") {
        reply("221 bye\r\n");
        return false;
      } else {
        if (!reply("250 OK\r\n")) return false;
      }
    }
  }

  asio::ssl::context* tls_;
  std::atomic<int> sessions_{0};
  std::vector<Message> messages_;
};

}  // namespace cit::test

#endif  // CIT_TESTS_DISPATCH_NOTIFY_RECEIVERS_H_
