"""Scripts that tests add to pages before the app runs (importable: tests/web is on sys.path)."""

# Keeps every peer connection a page makes (window.__pcs), so a test can read their SDP and stats.
KEEP_PCS = """
window.__pcs = [];
const KeptPC = window.RTCPeerConnection;
window.RTCPeerConnection = class extends KeptPC {
  constructor(...args) { super(...args); window.__pcs.push(this); }
};
"""
