// PROJ, loaded on first use (dlopen of its shared object) instead of at process start.
//
// Linked normally, libproj and its dependency tree (libcurl with GnuTLS, Kerberos, LDAP, SSH,
// TIFF, WebP...: ~40 shared objects) are mapped, relocated and initialised before main() of
// every program that links cit::geo: ~7 ms of CPU per process on this project's machines, which
// is half of what a whole `dispatchctl plan list` costs (docs/benchmarks.md, issue 14). Most
// dispatchctl commands never project a point; the dispatch-server projects every route and
// pays the cost once, at its first projection.
//
//   absl::StatusOr<const ProjLibrary*> proj = LoadProj();   // loads once; later calls are cheap
//   if (!proj.ok()) return proj.status();                   // says which package to install
//   PJ_CONTEXT* ctx = (*proj)->context_create();
//
// Thread contract: LoadProj may be called from any thread (loaded once, by a thread-safe static);
// the library is never unloaded, so the functions stay valid for the life of the process.
#ifndef CIT_GEO_PROJ_LIBRARY_H_
#define CIT_GEO_PROJ_LIBRARY_H_

#include <geodesic.h>
#include <proj.h>

#include "absl/status/statusor.h"

namespace cit::geo {

// The PROJ functions cit::geo uses (declarations from <proj.h>; nothing is linked).
struct ProjLibrary {
  decltype(&proj_context_create) context_create = nullptr;
  decltype(&proj_context_destroy) context_destroy = nullptr;
  decltype(&proj_log_level) log_level = nullptr;
  decltype(&proj_create) create = nullptr;
  decltype(&proj_destroy) destroy = nullptr;
  decltype(&proj_context_errno) context_errno = nullptr;
  decltype(&proj_context_errno_string) context_errno_string = nullptr;
  decltype(&proj_trans) trans = nullptr;
  // Geodesics (geodesic.h, Karney's algorithms).
  decltype(&::geod_init) geodesic_init = nullptr;
  decltype(&::geod_inverse) geodesic_inverse = nullptr;
  decltype(&::geod_direct) geodesic_direct = nullptr;
};

// PROJ's shared object loaded and its functions resolved, once per process. Fails (every time,
// with the same message) when the object or one of the functions is missing.
absl::StatusOr<const ProjLibrary*> LoadProj();

// The library, for code that cannot return an error (geodesic distances, destructors). A
// process calls LoadProj() first where it can fail cleanly (the dispatch-server at start-up);
// if PROJ cannot be loaded here, the process stops with LoadProj's message, as it would have
// at start had PROJ been linked normally.
const ProjLibrary& LoadedProj();

// The WGS84 ellipsoid for the geod_* functions, made once.
const geod_geodesic& Wgs84Geodesic();

}  // namespace cit::geo

#endif  // CIT_GEO_PROJ_LIBRARY_H_
