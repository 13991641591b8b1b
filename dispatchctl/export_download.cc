#include "dispatchctl/export_download.h"

#include <openssl/rand.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <system_error>

namespace cit::ctl {
namespace {

namespace fs = std::filesystem;

std::string RandomSuffix() {
  unsigned char b[6];
  if (RAND_bytes(b, sizeof b) != 1) return "0";
  char hex[13];
  for (std::size_t i = 0; i < sizeof b; ++i) std::snprintf(hex + 2 * i, 3, "%02x", b[i]);
  return hex;
}

}  // namespace

ExportDownload DownloadExport(cit::v1::Audit::StubInterface& audit, grpc::ClientContext& context,
                              const cit::v1::ExportRunRequest& request, const std::string& output) {
  ExportDownload d;
  const bool to_stdout = output.empty() || output == "-";
  fs::path part;
  std::ofstream file;
  if (!to_stdout) {
    const fs::path target(output);
    part = target;
    part += ".part-" + RandomSuffix();
    file.open(part, std::ios::binary | std::ios::trunc);
    if (!file) {
      d.local_error = "cannot create " + part.string() + " (is the directory writable?)";
      return d;
    }
  }
  std::ostream& out = to_stdout ? std::cout : file;
  std::unique_ptr<grpc::ClientReaderInterface<cit::v1::ExportRunResponse>> reader =
      audit.StreamExport(&context, request);
  cit::v1::ExportRunResponse message;
  while (reader->Read(&message)) {
    if (d.media_type.empty()) d.media_type = message.media_type();
    out.write(message.content().data(), static_cast<std::streamsize>(message.content().size()));
    d.bytes += message.content().size();
    if (!out) {
      d.local_error = "cannot write " + (to_stdout ? std::string("stdout") : part.string());
      context.TryCancel();
      break;
    }
  }
  d.status = reader->Finish();
  if (d.local_error.empty() && d.status.ok()) {
    out.flush();
    if (!to_stdout) file.close();
    if (!out || (!to_stdout && file.fail())) {
      d.local_error = "cannot write " + (to_stdout ? std::string("stdout") : part.string());
    }
  }
  if (to_stdout) return d;
  std::error_code ec;
  if (d.local_error.empty() && d.status.ok()) {
    fs::rename(part, output, ec);
    if (!ec) return d;
    d.local_error = "cannot rename " + part.string() + " to " + output + ": " + ec.message();
  }
  file.close();
  fs::remove(part, ec);
  return d;
}

}  // namespace cit::ctl
