/**
 * Notice when the other side's camera is off. A disabled camera track still sends frames, all
 * black, and the receiving track is not muted, so the picture itself is sampled: a few tiny
 * samples a second, nothing kept.
 * @module remotecam
 */

/** How often the remote picture is sampled, in ms. */
const SAMPLE_MS = 700;
/** A picture whose brightest sampled channel stays below this is black. */
const BLACK = 12;
/** Consecutive black (or muted) samples before the hint shows. */
const SAMPLES_OFF = 2;

/**
 * Watch `video` and call `onChange(off)` whenever "their camera is off" changes.
 * @param {HTMLVideoElement} video
 * @param {(off: boolean) => void} onChange
 * @returns {() => void} stops watching
 */
export function watchRemoteCamera(video, onChange) {
  const canvas = video.ownerDocument.createElement('canvas');
  canvas.width = canvas.height = 8;
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  let dark = 0;
  let off = false;
  const sample = () => {
    const track = video.srcObject?.getVideoTracks?.()[0];
    if (!track || video.readyState < 2 || !video.videoWidth) return;
    let black = track.muted;
    if (!black && ctx) {
      ctx.drawImage(video, 0, 0, 8, 8);
      const px = ctx.getImageData(0, 0, 8, 8).data;
      let max = 0;
      for (let i = 0; i < px.length; i += 4) max = Math.max(max, px[i], px[i + 1], px[i + 2]);
      black = max < BLACK;
    }
    dark = black ? dark + 1 : 0;
    const now = dark >= SAMPLES_OFF;
    if (now !== off) onChange((off = now));
  };
  const timer = setInterval(sample, SAMPLE_MS);
  return () => {
    clearInterval(timer);
    if (off) onChange(false);
  };
}
