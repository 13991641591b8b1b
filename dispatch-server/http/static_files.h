// The built web console, served from [http] assets_dir.
//
//   StaticFiles files("/usr/share/citwatch/console");
//   HttpResponse r = files.Serve("/assets/index-3f2a.js");
//
// "/" and paths without a file extension that name no file get index.html (the console's
// client-side routes, e.g. /runs/R-1); a missing file with an extension is 404. Only files inside
// the assets directory are served: percent-decoded paths with "..", backslashes or NUL bytes are
// refused (400), and a symlink leading outside is 404. Hashed files under /assets/ may be cached
// for a year; everything else is revalidated.
//
// Thread contract: thread-safe (reads the disk on each request; the console is a few files).
#ifndef CIT_DISPATCH_SERVER_HTTP_STATIC_FILES_H_
#define CIT_DISPATCH_SERVER_HTTP_STATIC_FILES_H_

#include <filesystem>
#include <string_view>

#include "dispatch-server/http/http_message.h"

namespace cit::dispatch {

class StaticFiles {
 public:
  explicit StaticFiles(std::filesystem::path root);

  // `path` is the request path without the query (still percent-encoded).
  HttpResponse Serve(std::string_view path) const;

 private:
  HttpResponse File(const std::filesystem::path& file, std::string_view request_path) const;

  std::filesystem::path root_;  // canonical; empty when no assets are configured
};

// Content-Type by file extension ("application/octet-stream" when unknown).
std::string_view ContentTypeFor(const std::filesystem::path& file);

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_HTTP_STATIC_FILES_H_
