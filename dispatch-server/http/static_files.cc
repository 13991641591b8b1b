#include "dispatch-server/http/static_files.h"

#include <fstream>
#include <map>
#include <sstream>
#include <vector>

namespace cit::dispatch {
namespace {

namespace fs = std::filesystem;

HttpResponse NotFound() { return JsonError(404, "NOT_FOUND", "no such file"); }

// Non-empty segments of a '/'-separated path.
std::vector<std::string_view> SplitPath(std::string_view path) {
  std::vector<std::string_view> out;
  while (!path.empty()) {
    std::size_t slash = path.find('/');
    std::string_view segment = path.substr(0, slash);
    if (!segment.empty()) out.push_back(segment);
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

}  // namespace

std::string_view ContentTypeFor(const fs::path& file) {
  static const std::map<std::string, std::string_view> kTypes = {
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".json", "application/json"},
      {".map", "application/json"},
      {".webmanifest", "application/manifest+json"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".jpg", "image/jpeg"},
      {".jpeg", "image/jpeg"},
      {".gif", "image/gif"},
      {".webp", "image/webp"},
      {".ico", "image/x-icon"},
      {".woff", "font/woff"},
      {".woff2", "font/woff2"},
      {".ttf", "font/ttf"},
      {".pbf", "application/x-protobuf"},
      {".wasm", "application/wasm"},
      {".mp3", "audio/mpeg"},
      {".ogg", "audio/ogg"},
      {".wav", "audio/wav"},
      {".txt", "text/plain; charset=utf-8"},
  };
  auto it = kTypes.find(file.extension().string());
  return it == kTypes.end() ? "application/octet-stream" : it->second;
}

StaticFiles::StaticFiles(fs::path root) {
  std::error_code ec;
  if (!root.empty()) root_ = fs::canonical(root, ec);
  if (ec) root_.clear();
}

HttpResponse StaticFiles::Serve(std::string_view path) const {
  if (root_.empty()) return NotFound();
  std::optional<std::string> decoded = UrlDecode(path, /*plus_is_space=*/false);
  if (!decoded || decoded->empty() || decoded->front() != '/') {
    return JsonError(400, "INVALID_ARGUMENT", "malformed path");
  }
  fs::path relative;
  for (std::string_view segment : SplitPath(*decoded)) {
    if (segment == "." || segment == ".." || segment.find('\\') != std::string_view::npos ||
        segment.find('\0') != std::string_view::npos) {
      return JsonError(400, "INVALID_ARGUMENT", "path may not contain '.', '..', '\\' or NUL");
    }
    relative /= std::string(segment);
  }
  const fs::path candidate = root_ / relative;
  std::error_code ec;
  if (!relative.empty() && fs::is_regular_file(candidate, ec)) {
    // A symlink may point outside the assets: serve only what resolves inside.
    fs::path real = fs::canonical(candidate, ec);
    if (ec) return NotFound();
    auto [root_end, unused] = std::mismatch(root_.begin(), root_.end(), real.begin(), real.end());
    if (root_end != root_.end()) return NotFound();
    return File(real, path);
  }
  if (!relative.empty() && relative.has_extension()) return NotFound();
  return File(root_ / "index.html", "/index.html");
}

HttpResponse StaticFiles::File(const fs::path& file, std::string_view request_path) const {
  std::ifstream in(file, std::ios::binary);
  if (!in) return NotFound();
  std::ostringstream ss;
  ss << in.rdbuf();
  HttpResponse r;
  r.status = 200;
  r.body = ss.str();
  r.headers.emplace_back("Content-Type", std::string(ContentTypeFor(file)));
  // Vite names built files by content hash under /assets/: they never change.
  r.headers.emplace_back("Cache-Control", request_path.substr(0, 8) == "/assets/"
                                              ? "public, max-age=31536000, immutable"
                                              : "no-cache");
  return r;
}

}  // namespace cit::dispatch
