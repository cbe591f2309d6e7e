// mlx90614_ascii: an MLX90614 (GY-906) on an Arduino or ESP32 speaking Checkpoint's `ascii` protocol.
//
// Output at 9600 baud, 8N1, the Adafruit example format, every 500 ms:
//   Ambient = 24.51*C<TAB>Object = 36.63*C<CR><LF>
//   Ambient = 76.12*F<TAB>Object = 97.93*F<CR><LF>
//   <CR><LF>
// After reset it prints banner lines (ignored by the driver). A failed read
// prints `nan` in place of the number; the driver counts it as a failed read.
// Configuration: [scanner] protocol = "ascii", baudrate = 9600 (pattern "auto" or "adafruit").
//
// Needs the "Adafruit MLX90614 Library" (Library Manager). Wiring: docs/hardware.md.

#include <Wire.h>
#include <Adafruit_MLX90614.h>

#if defined(ARDUINO_ARCH_ESP32)
const int SDA_PIN = 21;
const int SCL_PIN = 22;
#endif

const unsigned long PERIOD_MS = 500;
Adafruit_MLX90614 mlx = Adafruit_MLX90614();
bool sensorOk = false;
unsigned long lastMs = 0;

void printValue(double value) {
  if (isnan(value) || isinf(value)) {
    Serial.print("nan");  // one spelling for every failed read
  } else {
    Serial.print(value, 2);
  }
}

void printLine(double ambient, double object, const char *unit) {
  Serial.print("Ambient = ");
  printValue(ambient);
  Serial.print(unit);
  Serial.print("\tObject = ");
  printValue(object);
  Serial.println(unit);
}

double toF(double c) { return isnan(c) ? c : c * 9.0 / 5.0 + 32.0; }

void setup() {
  Serial.begin(9600);
  unsigned long start = millis();
  while (!Serial && millis() - start < 2000) {
  }
#if defined(ARDUINO_ARCH_ESP32)
  Wire.begin(SDA_PIN, SCL_PIN);
#endif
  Serial.println("Adafruit MLX90614 test");
  Serial.println("checkpoint mlx90614_ascii 1.0");
  sensorOk = mlx.begin();
  if (!sensorOk) {
    Serial.println("Error connecting to MLX sensor. Check wiring.");
  }
}

void loop() {
  unsigned long now = millis();
  if (now - lastMs < PERIOD_MS) {
    return;
  }
  lastMs = now;
  if (!sensorOk) {
    sensorOk = mlx.begin();  // keep trying; report failed reads meanwhile, never go silent
  }
  double ambient = sensorOk ? mlx.readAmbientTempC() : NAN;
  double object = sensorOk ? mlx.readObjectTempC() : NAN;
  printLine(ambient, object, "*C");
  printLine(toF(ambient), toF(object), "*F");
  Serial.println();
}
