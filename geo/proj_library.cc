#include "geo/proj_library.h"

#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

// The soname of the PROJ this was built against (geo/CMakeLists.txt reads it from PROJ's CMake
// package), e.g. "libproj.so.25": loading by soname finds the same ABI the headers describe.
#ifndef CIT_PROJ_SONAME
#error "CIT_PROJ_SONAME must name PROJ's shared object (set by geo/CMakeLists.txt)"
#endif

namespace cit::geo {
namespace {

struct Loaded {
  ProjLibrary library;
  absl::Status status;
};

template <typename Fn>
absl::Status Resolve(void* handle, const char* name, Fn& out) {
  out = reinterpret_cast<Fn>(dlsym(handle, name));
  if (out != nullptr) return absl::OkStatus();
  return absl::InternalError(absl::StrCat("PROJ (", CIT_PROJ_SONAME, ") has no function ", name,
                                          ": reinstall the PROJ runtime library this build was "
                                          "made for (Debian: libproj25)"));
}

absl::Status Load(ProjLibrary& p) {
  // RTLD_LOCAL: PROJ's symbols stay out of the global namespace, as with a normal link.
  void* handle = dlopen(CIT_PROJ_SONAME, RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = dlerror();
    return absl::FailedPreconditionError(
        absl::StrCat("cannot load PROJ (", CIT_PROJ_SONAME, "): ", why != nullptr ? why : "?",
                     "; install the PROJ runtime library (Debian: apt-get install libproj25)"));
  }
  for (absl::Status s :
       {Resolve(handle, "proj_context_create", p.context_create),
        Resolve(handle, "proj_context_destroy", p.context_destroy),
        Resolve(handle, "proj_log_level", p.log_level), Resolve(handle, "proj_create", p.create),
        Resolve(handle, "proj_destroy", p.destroy),
        Resolve(handle, "proj_context_errno", p.context_errno),
        Resolve(handle, "proj_context_errno_string", p.context_errno_string),
        Resolve(handle, "proj_trans", p.trans), Resolve(handle, "geod_init", p.geodesic_init),
        Resolve(handle, "geod_inverse", p.geodesic_inverse),
        Resolve(handle, "geod_direct", p.geodesic_direct)}) {
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

Loaded& Once() {
  static Loaded* loaded = [] {
    auto* l = new Loaded;  // never freed: PROJ objects may outlive static destruction
    l->status = Load(l->library);
    return l;
  }();
  return *loaded;
}

}  // namespace

absl::StatusOr<const ProjLibrary*> LoadProj() {
  const Loaded& l = Once();
  if (!l.status.ok()) return l.status;
  return &l.library;
}

const ProjLibrary& LoadedProj() {
  const Loaded& l = Once();
  if (!l.status.ok()) {
    std::fprintf(stderr, "fatal: %s\n", std::string(l.status.message()).c_str());
    std::_Exit(70);  // EX_SOFTWARE: the installation is broken, nothing to clean up
  }
  return l.library;
}

const geod_geodesic& Wgs84Geodesic() {
  static const geod_geodesic g = [] {
    geod_geodesic out;
    LoadedProj().geodesic_init(&out, 6378137.0, 1.0 / 298.257223563);
    return out;
  }();
  return g;
}

}  // namespace cit::geo
