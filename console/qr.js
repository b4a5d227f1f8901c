// The console's one way to draw a QR code: a TOTP device's key URI and a phone's pairing key.
import qrcode from './vendor/qrcode.mjs';

/**
 * A data: URL of the QR code of `text` (a GIF drawn by qrcode-generator), or undefined when it
 * cannot be drawn: qrcode-generator throws for more data than its largest version holds (a
 * long issuer or account name), and the secret must still be shown, as text.
 */
export function qrDataUrl(text) {
  try {
    const qr = qrcode(0, 'M');
    qr.addData(text);
    qr.make();
    return qr.createDataURL(4, 4);
  } catch {
    return undefined;
  }
}
