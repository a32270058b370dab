#!/usr/bin/python3
# An IP camera for the tests: GStreamer's RTSP server (Debian's gir1.2-gst-rtsp-server-1.0) serving a
# live 1280x720 test picture in H.264 and a 1 kHz tone in Opus, at
# rtsp://127.0.0.1:<port>/cam (port 0: any free one). Prints "port <n>" once it listens.
# Usage: rtsp-camera.py <port> [video-only]
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

Gst.init(None)
port = sys.argv[1] if len(sys.argv) > 1 else "0"
video_only = len(sys.argv) > 2 and sys.argv[2] == "video-only"

video = (
    "videotestsrc is-live=true pattern=smpte ! video/x-raw,width=1280,height=720,framerate=25/1 "
    "! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=50 bitrate=1500 "
    "! rtph264pay name=pay0 pt=96 config-interval=1"
)
sound = " audiotestsrc is-live=true freq=1000 volume=0.3 ! audioconvert ! audioresample ! opusenc ! rtpopuspay name=pay1 pt=97"

server = GstRtspServer.RTSPServer()
server.set_address("127.0.0.1")
server.set_service(port)
factory = GstRtspServer.RTSPMediaFactory()
factory.set_launch("( " + video + ("" if video_only else sound) + " )")
factory.set_shared(True)
server.get_mount_points().add_factory("/cam", factory)
server.attach(None)
print("port", server.get_bound_port(), flush=True)
GLib.MainLoop().run()
