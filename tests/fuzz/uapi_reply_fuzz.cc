// UAPI replies come from whatever listens on /var/run/wireguard/<iface>.sock.
#include <cstdint>
#include <stdexcept>
#include <string_view>
#include <system_error>

#include "wg/uapi_protocol.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    for (const bool set : {false, true}) {
        try {
            if (set) {
                wgmesh::wg::parse_uapi_set_reply(text);
            } else {
                // A parsed config must serialize without surprises, as apply() would send it.
                const auto config = wgmesh::wg::parse_uapi_get_reply(text);
                wgmesh::wg::format_uapi_set_request(
                    wgmesh::wg::compute_device_update(wgmesh::wg::DeviceConfig{}, config));
            }
        } catch (const wgmesh::wg::UapiProtocolError&) {
        } catch (const std::system_error&) {
        }
    }
    (void)wgmesh::wg::uapi_reply_length(text);
    return 0;
}
