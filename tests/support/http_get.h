// A plain HTTP/1.0 GET on a loopback port for tests that read a server's /metrics or /healthz,
// and the value of one Prometheus sample in the text answer.
//
//   std::string text = test::HttpGet(port, "/metrics");            // "" when nothing came
//   std::optional<double> v = test::MetricValue(text, "cit_ingest_records_received_total");
#ifndef CIT_TESTS_SUPPORT_HTTP_GET_H_
#define CIT_TESTS_SUPPORT_HTTP_GET_H_

#include <chrono>
#include <optional>
#include <string>

namespace cit::test {

// The whole answer (status line, headers, body), or "" when the connection failed or the answer
// did not end within `limit`.
std::string HttpGet(int port, const std::string& path,
                    std::chrono::milliseconds limit = std::chrono::seconds(10));

// The value of the first sample line of `text` named `sample`: `name{label="x"}` matches that
// labelled sample only, a bare `name` its first sample, labelled or not; nullopt when none.
std::optional<double> MetricValue(const std::string& text, const std::string& sample);

}  // namespace cit::test

#endif  // CIT_TESTS_SUPPORT_HTTP_GET_H_
