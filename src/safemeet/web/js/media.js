/**
 * Local media: camera and microphone with fallbacks, mute and camera switches, stopping.
 * @module media
 */

/**
 * Ask for camera and microphone, falling back to the microphone only, then to nothing
 * (a call without local media still receives).
 * @returns {Promise<MediaStream|null>}
 */
export async function acquireMedia() {
  for (const constraints of [{ audio: true, video: true }, { audio: true, video: false }]) {
    try {
      return await navigator.mediaDevices.getUserMedia(constraints);
    } catch (e) {
      console.warn('media unavailable:', e.name);
    }
  }
  return null;
}

/**
 * What a stream sends, in the ring body's shape.
 * @param {MediaStream|null} stream
 * @returns {{audio: boolean, video: boolean}}
 */
export function mediaKinds(stream) {
  return { audio: !!stream?.getAudioTracks().length, video: !!stream?.getVideoTracks().length };
}

/**
 * Enable or disable a stream's tracks: audio off when muted, video off when the camera is off.
 * @param {MediaStream|null} stream
 * @param {{muted: boolean, cameraOn: boolean}} switches
 */
export function applySwitches(stream, { muted, cameraOn }) {
  for (const t of stream?.getAudioTracks() ?? []) t.enabled = !muted;
  for (const t of stream?.getVideoTracks() ?? []) t.enabled = cameraOn;
}

/**
 * Stop every track of a stream (the camera light goes off).
 * @param {MediaStream|null} stream
 */
export function stopMedia(stream) {
  for (const t of stream?.getTracks() ?? []) t.stop();
}

/**
 * Ask the user for a screen, window or tab to share (video only; call from a user gesture).
 * @returns {Promise<MediaStream>}
 */
export function acquireScreen() {
  return navigator.mediaDevices.getDisplayMedia({ video: true, audio: false });
}
