/**
 * The page: renders the phone and its current call into the DOM of index.html and turns user
 * input into phone/call calls. DOM only: no crypto, no network, nothing stored (it reads a
 * contact's local name to show who calls).
 * @module ui
 */

import { getContact } from './contacts.js';
import { NumberError, formatNumber, normalize } from './numbers.js';
import { watchRemoteCamera } from './remotecam.js';

const $ = (doc, id) => doc.getElementById(id);

/** Phases in which the call stage (videos, controls) is shown. */
const IN_CALL = new Set(['outgoing', 'connecting', 'connected', 'reconnecting']);
/** Why Call is disabled, per connection state (shown under the dial box). */
const DIAL_HINT = {
  connecting: 'Connecting to the node… Call works once you are online.',
  reconnecting: 'You are offline for a moment: reconnecting to the node. A call in progress goes on.',
  offline: 'You are offline: the node cannot be reached. Call works again once it is back.',
  stopped: 'You are offline.',
};
/** Phases in which the chat panel is shown. */
const CHAT = new Set(['connecting', 'connected', 'reconnecting']);

/**
 * Wire the page to a phone.
 * @param {Document} doc
 * @param {import('./phone.js').Phone} phone
 * @returns {{setNumber: (n: string) => void, setConnection: (state: string, text: string) => void}}
 */
export function mountUi(doc, phone) {
  const el = {
    layout: $(doc, 'layout'),
    conn: $(doc, 'conn'),
    myNumber: $(doc, 'my-number'),
    dialForm: $(doc, 'dial-form'),
    dialInput: $(doc, 'dial-input'),
    dialButton: $(doc, 'dial-button'),
    dialError: $(doc, 'dial-error'),
    dialHint: $(doc, 'dial-hint'),
    status: $(doc, 'status'),
    incoming: $(doc, 'incoming'),
    incomingNumber: $(doc, 'incoming-number'),
    incomingName: $(doc, 'incoming-name'),
    accept: $(doc, 'accept-button'),
    decline: $(doc, 'decline-button'),
    incall: $(doc, 'incall'),
    chat: $(doc, 'chat'),
    stage: $(doc, 'stage'),
    stagePeer: $(doc, 'stage-peer'),
    remoteOff: $(doc, 'remote-camera-off'),
    stageRelay: $(doc, 'stage-relay'),
    remote: $(doc, 'remote-video'),
    remoteScreen: $(doc, 'remote-screen'),
    screen: $(doc, 'screen-button'),
    screenLabel: $(doc, 'screen-label'),
    screenError: $(doc, 'screen-error'),
    local: $(doc, 'local-video'),
    mute: $(doc, 'mute-button'),
    camera: $(doc, 'camera-button'),
    muteLabel: $(doc, 'mute-label'),
    cameraLabel: $(doc, 'camera-label'),
    hangup: $(doc, 'hangup-button'),
    chatLog: $(doc, 'chat-log'),
    chatEmpty: $(doc, 'chat-empty'),
    chatForm: $(doc, 'chat-form'),
    chatInput: $(doc, 'chat-input'),
    chatSend: $(doc, 'chat-send'),
    chatError: $(doc, 'chat-error'),
  };
  let call = null;

  el.dialInput.addEventListener('input', () => {
    el.dialError.textContent = '';
    el.dialInput.removeAttribute('aria-invalid');
  });
  el.dialForm.addEventListener('submit', (e) => {
    e.preventDefault();
    if (!phone.busy) el.status.textContent = ''; // the last call's end is stale now
    const number = checkDial(el, phone.identity.number);
    if (!number || phone.busy) return;
    phone.dial(number);
  });
  el.chatInput.addEventListener('input', () => {
    el.chatError.textContent = '';
  });
  el.accept.addEventListener('click', () => call?.accept());
  el.decline.addEventListener('click', () => call?.decline());
  el.hangup.addEventListener('click', () => call?.hangup());
  el.mute.addEventListener('click', () => call?.setMuted(!call.switches.muted));
  el.camera.addEventListener('click', () => call?.setCamera(!call.switches.cameraOn));
  el.screen.addEventListener('click', () => {
    if (!call) return;
    el.screenError.hidden = true;
    if (call.sharingScreen) return void call.stopScreen();
    call.shareScreen().catch((err) => {
      if (err?.name === 'NotAllowedError' || err?.name === 'AbortError') return; // the user changed their mind
      el.screenError.textContent = err?.message || 'The screen could not be shared.';
      el.screenError.hidden = false;
    });
  });
  el.chatForm.addEventListener('submit', (e) => {
    e.preventDefault();
    const text = el.chatInput.value;
    if (!call || text.trim() === '') return; // blank: nothing to send (others go as typed)
    try {
      call.sendChat(text);
      el.chatInput.value = '';
      el.chatError.textContent = '';
    } catch (err) {
      el.chatError.textContent = err.message;
    }
  });

  // Leaving the page ends the call properly where the browser still lets the hang-up out.
  doc.defaultView?.addEventListener('pagehide', () => call?.hangup());

  phone.addEventListener('call', (e) => {
    call = e.detail.call;
    bindCall(el, call, () => {
      call = null;
    });
  });

  return {
    setNumber(n) {
      el.myNumber.textContent = formatNumber(n);
    },
    setConnection(state, text) {
      el.conn.dataset.state = state;
      el.conn.textContent = text;
      el.dialButton.disabled = state !== 'online';
      el.dialHint.textContent = DIAL_HINT[state] ?? '';
    },
  };
}

/** Validate the dial input; show an inline error and return null when it is not callable. */
function checkDial(el, myNumber) {
  let message = '';
  let number = null;
  try {
    number = normalize(el.dialInput.value);
    if (number === myNumber) message = 'That is your own number.';
  } catch (err) {
    if (!(err instanceof NumberError)) throw err;
    message = {
      not_digits: 'A number has only digits (spaces and dashes are fine).',
      length: 'A number has nine digits.',
      leading_zero: 'A number never starts with 0.',
      check_digit: 'That number has a typo: its last digit does not match. Check it and try again.',
    }[err.reason] ?? 'That is not a valid number.';
  }
  el.dialError.textContent = message;
  if (message) {
    el.dialInput.setAttribute('aria-invalid', 'true');
    el.dialInput.focus();
    return null;
  }
  el.dialInput.removeAttribute('aria-invalid');
  return number;
}

/** Follow one call's events until it is wiped. */
function bindCall(el, call, onGone) {
  const peer = formatNumber(call.peer);
  el.incomingNumber.textContent = peer;
  getContact(call.peer).then((c) => {
    if (!c?.name || call.ended) return;
    el.incomingName.textContent = c.name;
    el.incomingName.hidden = false;
  }).catch(() => {});
  el.stagePeer.textContent = peer;
  el.status.textContent = '';
  clearChat(el);

  call.addEventListener('state', (e) => {
    render(el, e.detail);
    el.stageRelay.hidden = !call.relayOnly || call.ended;
  });
  call.addEventListener('local-media', (e) => play(el.local, e.detail.stream));
  call.addEventListener('remote-media', (e) => play(el.remote, e.detail.stream));
  call.addEventListener('remote-screen', (e) => showRemoteScreen(el, e.detail.stream));
  call.addEventListener('screen', (e) => showSharing(el, e.detail.sharing));
  const stopWatching = watchRemoteCamera(el.remote, (off) => {
    el.remoteOff.hidden = !off;
  });
  call.addEventListener('switches', (e) => showSwitches(el, e.detail));
  call.addEventListener('chat-ready', (e) => {
    el.chatInput.disabled = !e.detail.ready;
    el.chatSend.disabled = !e.detail.ready;
  });
  call.addEventListener('chat', (e) => appendChat(el, e.detail.from, e.detail.text));
  call.addEventListener('wiped', () => {
    stopWatching();
    clearChat(el);
    for (const v of [el.remote, el.local]) {
      v.pause();
      v.srcObject = null;
    }
    showRemoteScreen(el, null);
    showSharing(el, false);
    el.screenError.hidden = true;
    el.incomingNumber.textContent = el.incomingName.textContent = '';
    el.incomingName.hidden = el.remoteOff.hidden = el.stageRelay.hidden = true;
    el.stagePeer.textContent = '';
    el.dialInput.value = '';
    showSwitches(el, { muted: false, cameraOn: true });
    el.chatInput.disabled = el.chatSend.disabled = true;
    onGone();
  }, { once: true });
}

function render(el, { phase, text }) {
  el.layout.dataset.phase = phase;
  el.layout.ownerDocument.title = phase === 'incoming' ? 'Incoming call · safemeet' : 'safemeet';
  el.status.textContent = text;
  if (phase === 'outgoing' || phase === 'connecting' || phase === 'reconnecting') el.stage.dataset.overlay = text;
  else delete el.stage.dataset.overlay;
  el.incoming.hidden = phase !== 'incoming';
  el.incall.hidden = !IN_CALL.has(phase);
  el.chat.hidden = !CHAT.has(phase);
  el.dialInput.disabled = phase !== 'ended' && phase !== 'idle';
  if (phase === 'incoming') el.accept.focus();
  if (phase === 'ended') el.dialInput.disabled = false;
}

/** Pressed states keep their meaning (Mute pressed = muted, Camera pressed = on); the words say it. */
function showSwitches(el, { muted, cameraOn }) {
  el.mute.setAttribute('aria-pressed', String(muted));
  el.camera.setAttribute('aria-pressed', String(cameraOn));
  el.muteLabel.textContent = muted ? 'Muted' : 'Mute';
  el.cameraLabel.textContent = cameraOn ? 'Camera' : 'Camera off';
}

/** Show the peer's screen (null: hide it, and let go of its last frame). */
function showRemoteScreen(el, stream) {
  el.remoteScreen.hidden = !stream;
  if (stream) {
    el.stage.dataset.screen = '';
    play(el.remoteScreen, stream);
  } else {
    delete el.stage.dataset.screen;
    el.remoteScreen.pause();
    el.remoteScreen.srcObject = null;
  }
}

function showSharing(el, sharing) {
  el.screen.setAttribute('aria-pressed', String(sharing));
  el.screenLabel.textContent = sharing ? 'Stop sharing' : 'Share screen';
}

function play(video, stream) {
  if (video.srcObject !== stream) video.srcObject = stream;
  video.play().catch((e) => console.warn('video does not play yet:', e.name));
}

function appendChat(el, from, text) {
  const item = el.chatLog.ownerDocument.createElement('p');
  item.className = `msg msg-${from}`;
  const who = el.chatLog.ownerDocument.createElement('span');
  who.className = 'visually-hidden';
  who.textContent = from === 'me' ? 'You: ' : 'They: ';
  const body = el.chatLog.ownerDocument.createElement('bdi');
  body.className = 'msg-text';
  body.textContent = text;
  item.append(who, body);
  el.chatLog.append(item);
  el.chatEmpty.hidden = true;
  el.chatLog.scrollTop = el.chatLog.scrollHeight;
}

function clearChat(el) {
  el.chatLog.replaceChildren();
  el.chatEmpty.hidden = false;
  el.chatInput.value = '';
  el.chatError.textContent = '';
}
