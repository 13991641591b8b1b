// libgps without its D-Bus transport, for the statically linked vehicle-agent.
//
// Linked into the vehicle-agent executable only. libgps.a's gps_open() calls gps_dbus_open()
// when the host is GPSD_DBUS_EXPORT ("DBUS export"), which pulls libgps_dbus.o and with it
// libdbus-1, which Debian ships only as a shared library that in turn loads libsystemd,
// libgcrypt, libgpg-error, liblzma, libzstd, liblz4 and libcap (about 1 MB of RSS together).
// The agent reads gpsd over TCP only (gps.host/gps.port), so these definitions keep
// libgps_dbus.o out of the link: a "DBUS export" host fails to open like an unreachable gpsd
// (the agent logs it and retries), instead of silently falling back to something else.
#include <cerrno>

struct gps_data_t;

extern "C" {

// Same signatures as gpsd 3.22's libgps.h (not installed).
int gps_dbus_open(struct gps_data_t* /*gpsdata*/) {
  errno = ENOTSUP;
  return -1;
}

int gps_dbus_mainloop(struct gps_data_t* /*gpsdata*/, int /*timeout*/,
                      void (* /*hook*/)(struct gps_data_t*)) {
  errno = ENOTSUP;
  return -1;
}

}  // extern "C"
