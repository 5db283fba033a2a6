/**
 * QR codes for safety numbers: drawing one (uqr) and reading one from the camera (jsQR), both
 * npm packages served same-origin at /vendor/ and loaded only when first needed.
 * @module qr
 */

const UQR_URL = '/vendor/uqr.js';
const JSQR_URL = '/vendor/jsqr.js';
/** How often a camera frame is looked at while scanning, in ms. */
export const SCAN_INTERVAL_MS = 120;

/**
 * An `<img>` source (SVG data URL) showing `text` as a QR code with a quiet zone.
 * @param {string} text
 * @param {{renderSVG?: (text: string, o: object) => string}} [lib] uqr (loaded from /vendor/ by default)
 * @returns {Promise<string>}
 */
export async function qrImageSrc(text, lib = {}) {
  const renderSVG = lib.renderSVG ?? (await import(UQR_URL)).renderSVG;
  const svg = renderSVG(text, { ecc: 'M', border: 4, pixelSize: 8 });
  return `data:image/svg+xml,${encodeURIComponent(svg)}`;
}

async function loadJsQr() {
  await import(JSQR_URL); // a UMD bundle: as a module it sets globalThis.jsQR
  return globalThis.jsQR;
}

/**
 * The text of a QR code in an RGBA frame, or null.
 * @param {{data: Uint8ClampedArray, width: number, height: number}} image
 * @param {(d: Uint8ClampedArray, w: number, h: number, o: object) => ({data: string}|null)} jsQR
 * @returns {string|null}
 */
export function decodeFrame(image, jsQR) {
  const found = jsQR(image.data, image.width, image.height, { inversionAttempts: 'attemptBoth' });
  return found ? found.data : null;
}

/** Reads QR codes from the camera into a `<video>` until `stop()` or `accept(text)` says yes. */
export class Scanner {
  /**
   * @param {HTMLVideoElement} video where the camera is shown while scanning
   * @param {(text: string) => boolean} accept called with each decoded text; true ends the scan
   */
  constructor(video, accept) {
    this.video = video;
    this.accept = accept;
    this.stream = null;
    this.timer = 0;
    this.canvas = video.ownerDocument.createElement('canvas');
  }

  /**
   * Turn the camera on and look at frames until a code is accepted.
   * @returns {Promise<void>} once the camera is on
   * @throws {DOMException} when the camera cannot be used
   */
  async start() {
    const jsQR = await loadJsQr();
    this.stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' }, audio: false });
    this.video.srcObject = this.stream;
    await this.video.play().catch(() => {});
    const tick = () => {
      if (!this.stream) return;
      const text = this.#frame(jsQR);
      if (text !== null && this.accept(text)) this.stop();
      else this.timer = setTimeout(tick, SCAN_INTERVAL_MS);
    };
    tick();
  }

  #frame(jsQR) {
    const { videoWidth: w, videoHeight: h } = this.video;
    if (!w || !h) return null;
    this.canvas.width = w;
    this.canvas.height = h;
    const ctx = this.canvas.getContext('2d', { willReadFrequently: true });
    ctx.drawImage(this.video, 0, 0, w, h);
    return decodeFrame(ctx.getImageData(0, 0, w, h), jsQR);
  }

  /** Turn the camera off. */
  stop() {
    clearTimeout(this.timer);
    for (const t of this.stream?.getTracks() ?? []) t.stop();
    this.stream = null;
    this.video.pause();
    this.video.srcObject = null;
  }
}
